//! `schema/results.schema.json` (at the repository root) matches what serde writes: the
//! fixtures and a freshly serialized `ResultsFile` validate, broken documents do not.

mod common;

use std::path::PathBuf;

use harness::results::{Environment, ResultsFile};
use serde_json::{json, Value};

fn validator() -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schema/results.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema is a valid draft 2020-12 schema")
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn fixtures_and_fresh_files_validate() {
    let v = validator();
    for name in ["baseline.json", "current.json"] {
        let text = std::fs::read_to_string(common::fixtures_dir().join(name)).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(errors(&v, &doc), Vec::<String>::new(), "{name}");
    }
    // A fresh file straight from serde, with the options left at their defaults (nulls).
    let mut fresh = ResultsFile::new(Environment::default());
    fresh.runs.push(harness::results::EchoRun {
        mode: "closed".into(),
        ..Default::default()
    });
    fresh.runs.push(harness::results::EchoRun {
        mode: "open".into(),
        purpose: harness::results::RunPurpose::EqualLoad,
        status: harness::results::RunStatus::Partial,
        status_reason: Some("why".into()),
        ..Default::default()
    });
    // A run over several hosts: the merged figures, each host with its shard's own run.
    fresh.runs.push(harness::results::EchoRun {
        mode: "closed".into(),
        measured_messages: Some(3),
        start_at: Some(1.8e9),
        hosts: vec![
            harness::results::HostRun {
                host: "root@198.18.0.2".into(),
                role: "server".into(),
                clock_offset_ms: Some(0.5),
                clock_rtt_ms: Some(1.0),
                ..Default::default()
            },
            harness::results::HostRun {
                host: "root@198.18.0.3".into(),
                role: "agent".into(),
                shard: Some("0/2".into()),
                run: Some(Box::new(harness::results::EchoRun {
                    mode: "closed".into(),
                    shard: Some("0/2".into()),
                    ..Default::default()
                })),
                ..Default::default()
            },
            harness::results::HostRun {
                host: "root@198.18.0.4".into(),
                role: "agent".into(),
                shard: Some("1/2".into()),
                error: Some("ssh exited with status 255".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    fresh.capacity.push(harness::results::CapacityResult {
        steps: vec![Default::default()],
        ..Default::default()
    });
    fresh.equal_load.push(harness::results::EqualLoadBasis {
        probes: vec![Default::default()],
        lowered_from: Some(150_000.0),
        ..Default::default()
    });
    fresh
        .server_instructions
        .push(harness::results::ServerInstructions {
            instructions_per_msg: Some(768.3),
            loads: vec![Default::default(), Default::default()],
            ..Default::default()
        });
    fresh
        .server_instructions
        .push(harness::results::ServerInstructions {
            note: Some("why".into()),
            ..Default::default()
        });
    let doc = serde_json::to_value(&fresh).unwrap();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    let doc = serde_json::to_value(common::results(3, 1.0, "2026-11-21T00:00:00Z")).unwrap();
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
}

#[test]
fn broken_documents_fail() {
    let v = validator();
    let good = serde_json::to_value(common::results(5, 1.0, "2026-11-21T00:00:00Z")).unwrap();
    type Breaker = Box<dyn Fn(&mut Value)>;
    let broken: Vec<(&str, Breaker)> = vec![
        (
            "unknown status",
            Box::new(|d| d["results"][0]["status"] = json!("passed")),
        ),
        (
            "missing environment",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("environment");
            }),
        ),
        (
            "other schema version",
            Box::new(|d| d["schema_version"] = json!(2)),
        ),
        (
            "string for a number",
            Box::new(|d| d["runs"][0]["throughput_msgs_per_s"] = json!("fast")),
        ),
        (
            "negative count",
            Box::new(|d| d["runs"][0]["errors"]["resets"] = json!(-1)),
        ),
        (
            "unknown mode",
            Box::new(|d| d["runs"][0]["mode"] = json!("half-open")),
        ),
        (
            "missing percentile",
            Box::new(|d| {
                d["runs"][0]["latency_us"]
                    .as_object_mut()
                    .unwrap()
                    .remove("p99");
            }),
        ),
        (
            "nofile limit of three",
            Box::new(|d| d["environment"]["nofile_limit"] = json!([1, 2, 3])),
        ),
        (
            "unknown field",
            Box::new(|d| d["micro"][0]["ns_per_iteration"] = json!(1.0)),
        ),
        (
            "missing rule",
            Box::new(|d| {
                d["results"][0].as_object_mut().unwrap().remove("rule");
            }),
        ),
    ];
    assert!(v.is_valid(&good));
    for (what, breaks) in broken {
        let mut doc = good.clone();
        breaks(&mut doc);
        assert!(!v.is_valid(&doc), "{what} should fail validation");
    }
    // Fields with serde defaults may be absent, as the reader accepts.
    let mut doc = good.clone();
    doc.as_object_mut().unwrap().remove("micro");
    doc["runs"][0].as_object_mut().unwrap().remove("histogram");
    assert_eq!(errors(&v, &doc), Vec::<String>::new());
    let parsed: ResultsFile = serde_json::from_value(doc).unwrap();
    assert!(parsed.micro.is_empty());
}
