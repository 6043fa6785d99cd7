//! The fixture files under `tests/fixtures/` are exactly what the generator in
//! `common` makes; run with `LOOPBENCH_UPDATE_FIXTURES=1` to rewrite them.

mod common;

use harness::results::ResultsFile;

#[test]
fn fixtures_are_current() {
    let dir = common::fixtures_dir();
    for (name, file) in [
        (
            "baseline.json",
            common::results(7, 1.0, "2026-11-20T09:00:00Z"),
        ),
        (
            "current.json",
            common::results(11, 1.04, "2026-11-21T09:00:00Z"),
        ),
    ] {
        let path = dir.join(name);
        if std::env::var_os("LOOPBENCH_UPDATE_FIXTURES").is_some() {
            file.save(&path).unwrap();
        }
        let loaded = ResultsFile::load(&path).unwrap();
        assert_eq!(
            loaded, file,
            "{name} is stale: run with LOOPBENCH_UPDATE_FIXTURES=1"
        );
    }
}
