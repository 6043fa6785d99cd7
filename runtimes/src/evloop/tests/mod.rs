//! evloop's unit tests: the loop API, tasks, timers, threads and TCP. They assert on
//! orders, counts and bytes; timing checks only "not before the deadline" strictly and
//! "not too late" with seconds of slack.

mod io;
mod loop_api;
mod tasks;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use super::Evloop;

/// A loop with debug mode off, whatever the environment says.
fn new_loop() -> Evloop {
    Evloop::builder()
        .debug(false)
        .build()
        .expect("build evloop")
}

/// A shared log callbacks append to.
type Log<T> = Rc<RefCell<Vec<T>>>;

/// Slack for "not too late" checks: the test machine is small and busy.
const SLACK: Duration = Duration::from_secs(5);
