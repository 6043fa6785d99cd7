//! The protocol of a child `loopbench load`, defined once: the parent writes the whole
//! [`LoadPlan`] as JSON into a private directory and starts `loopbench load --plan PLAN
//! --json RESULT`; the child prints one progress line per [`LoadEvent`] on stdout
//! (`loopbench-load: connected 100/100`, `measure-start`, `measure-end`, flushed at once so
//! the parent can sample the server around the window) and writes one `EchoRun` to RESULT.
//! Its exit status is [`harness::results::echo_exit_status`]'s (2 for an unusable plan).

use std::ffi::OsString;
use std::path::Path;

use crate::plan::LoadPlan;
use crate::LoadEvent;

/// Prefix of the load generator's progress lines on stdout.
pub const EVENT_PREFIX: &str = "loopbench-load: ";
/// The subcommand.
pub const SUBCOMMAND: &str = "load";
/// The flag naming the plan file.
pub const PLAN_FLAG: &str = "--plan";
/// The flag naming the result file.
pub const JSON_FLAG: &str = "--json";

/// The child's arguments for a plan at `plan` and its result at `json`.
pub fn args(plan: &Path, json: &Path) -> Vec<OsString> {
    vec![
        SUBCOMMAND.into(),
        PLAN_FLAG.into(),
        plan.into(),
        JSON_FLAG.into(),
        json.into(),
    ]
}

/// Writes `plan` for a child.
pub fn write_plan(plan: &LoadPlan, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(plan).map_err(std::io::Error::other)?;
    harness::results::write_atomic(path, &text)
}

/// Reads a plan written by [`write_plan`]; the error says what is wrong with the file.
pub fn read_plan(path: &Path) -> Result<LoadPlan, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read load plan {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("load plan {} is unusable: {e}", path.display()))
}

/// The progress line of `ev` (without the newline).
pub fn event_line(ev: LoadEvent) -> String {
    let text = match ev {
        LoadEvent::Connected { established, asked } => format!("connected {established}/{asked}"),
        LoadEvent::MeasureStart => "measure-start".into(),
        LoadEvent::MeasureEnd => "measure-end".into(),
    };
    format!("{EVENT_PREFIX}{text}")
}

/// The event a progress line announces, if it is one.
pub fn parse_event(line: &str) -> Option<LoadEvent> {
    let text = line.strip_prefix(EVENT_PREFIX)?.trim();
    match text {
        "measure-start" => Some(LoadEvent::MeasureStart),
        "measure-end" => Some(LoadEvent::MeasureEnd),
        _ => {
            let (e, a) = text.strip_prefix("connected ")?.split_once('/')?;
            Some(LoadEvent::Connected {
                established: e.parse().ok()?,
                asked: a.parse().ok()?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        for ev in [
            LoadEvent::Connected {
                established: 7,
                asked: 10,
            },
            LoadEvent::MeasureStart,
            LoadEvent::MeasureEnd,
        ] {
            assert_eq!(parse_event(&event_line(ev)), Some(ev));
        }
        assert_eq!(parse_event("something else"), None);
    }
}
