//! Reads the workspace's `Cargo.lock` so each adapter can report the exact upstream crate
//! version it was compiled against (`RuntimeInfo::crate_version`).
use std::path::Path;

fn main() {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return;
    };
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            let var = match n.as_str() {
                "tokio" => "TOKIO",
                "async-std" => "ASYNC_STD",
                "smol" => "SMOL",
                "async-executor" => "ASYNC_EXECUTOR",
                "compio" => "COMPIO",
                "monoio" => "MONOIO",
                _ => continue,
            };
            println!(
                "cargo:rustc-env=LOOPBENCH_VERSION_{var}={}",
                v.trim_matches('"')
            );
        }
    }
}
