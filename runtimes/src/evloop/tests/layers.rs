//! The layer order of evloop's modules, checked: each module may use (`super::…`) only the
//! modules listed before it in [`ORDER`], so the imports form no cycle. A new module must be
//! placed in the list, or this test fails.

use std::collections::BTreeSet;
use std::path::Path;

/// evloop's modules, bottom first (the order `mod.rs` states). `mod.rs` itself, the root,
/// may use any of them; the unit tests under `tests/` are not part of the order.
const ORDER: &[&str] = &[
    // Leaves: the kernel, and small parts that know no loop.
    "sys",
    "sys_uring",
    "slab",
    "mutants",
    "debug",
    "blocking",
    // I/O drivers: the boundary, then epoll and io_uring.
    "driver",
    "reactor",
    "uring",
    // Tasks (queued through `Schedule`), timers, and what other threads may touch.
    "task",
    "timer",
    "shared",
    // The iteration over all of the above.
    "scheduler",
    // Which loop runs on this thread, and the wake path that reads it.
    "context",
    // What tasks use: sleeps, sockets, the handle.
    "sleep",
    "net",
    "net_uring",
    "handle",
    // Runs, and the asyncio API.
    "run",
    "event_loop",
];

/// Source text with `//` comments removed (doc links name modules too) and inline modules
/// (`mod tests { … }`) cut out: their `super::` is the file's own module, not a sibling.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut depth = 0usize; // brace depth inside an inline module being skipped
    for line in text.lines() {
        let line = line.find("//").map_or(line, |i| &line[..i]);
        if depth == 0 {
            let words: Vec<&str> = line.split_whitespace().collect();
            let inline_mod = words
                .iter()
                .position(|w| *w == "mod")
                .is_some_and(|i| words.get(i + 2) == Some(&"{"));
            if !inline_mod {
                code.push_str(line);
                code.push('\n');
                continue;
            }
        }
        for c in line.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
        }
    }
    code
}

/// The first path segment of every item of a `use` tree such as `{a, b::{c, d}, e::F}`.
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for ch in group.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => heads.push(std::mem::take(&mut item)),
            _ if depth == 0 => item.push(ch),
            _ => {}
        }
    }
    heads.push(item);
    heads
        .iter()
        .filter_map(|i| i.trim().split("::").next().map(str::trim).map(String::from))
        .filter(|h| !h.is_empty() && h != "self")
        .collect()
}

/// The sibling modules a module's code names through `super::`.
fn uses_of(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        rest = &rest[i + "super::".len()..];
        if let Some(beyond) = rest.strip_prefix("super::") {
            rest = beyond; // `super::super::`: a test reaching the root, not a sibling
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find_map(|(j, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(j)
                })
                .expect("unbalanced use group");
            used.extend(group_heads(&group[..end]));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            used.insert(name);
        }
    }
    used
}

fn evloop_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/evloop"))
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let mut broken = Vec::new();
    for (rank, module) in ORDER.iter().enumerate() {
        let path = evloop_dir().join(format!("{module}.rs"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (a module in ORDER must exist)", path.display()));
        for used in uses_of(&code_of(&text)) {
            match ORDER.iter().position(|m| *m == used) {
                Some(r) if r < rank => {}
                Some(_) => broken.push(format!("{module} uses {used}, which is not below it")),
                None => broken.push(format!("{module} uses {used}, which is not in ORDER")),
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layer order broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_module_is_placed_in_the_order() {
    let mut files: BTreeSet<String> = std::fs::read_dir(evloop_dir())
        .expect("read src/evloop")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".rs").map(String::from))
        .collect();
    files.remove("mod");
    let placed: BTreeSet<String> = ORDER.iter().map(|m| m.to_string()).collect();
    assert_eq!(files, placed, "modules of src/evloop vs ORDER");
    let root = std::fs::read_to_string(evloop_dir().join("mod.rs")).expect("mod.rs");
    for line in code_of(&root).lines() {
        let line = line.trim();
        if let Some(decl) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("pub(crate) mod "))
            .or_else(|| line.strip_prefix("mod "))
        {
            let name = decl.trim_end_matches(';').trim();
            assert!(
                name == "tests" || placed.contains(name),
                "mod.rs declares `{name}`, which is not in ORDER"
            );
        }
    }
}

#[test]
fn the_parser_sees_groups_paths_and_inline_uses() {
    let code = "use super::{a, b::{C, D}, self};\nuse super::e::F; // super::no\nlet x = super::g::h();\nuse super::super::Root;\nmod tests {\n    use super::*;\n    fn f() { let _ = super::z; }\n}\nuse super::k;";
    let used: Vec<String> = uses_of(&code_of(code)).into_iter().collect();
    assert_eq!(used, ["a", "b", "e", "g", "k"]);
}
