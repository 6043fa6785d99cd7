//! evloop's unit tests: the loop API, tasks, timers, threads and TCP, each written once and
//! run on both drivers (tokio's `rt_test!` pattern: [`on_both_drivers!`]). They assert on
//! orders, counts and bytes; timing checks only "not before the deadline" strictly and "not
//! too late" with seconds of slack. Where io_uring cannot be used, its variant of each test
//! checks that the error is the one `Unsupported` reason and says it skipped.

mod io;
mod layers;
mod loop_api;
mod tasks;
#[cfg(feature = "evloop-uring")]
mod uring_driver;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use harness::Runtime;

use super::{EventLoop, Evloop, EvloopBuilder};

/// A loop as the tests use it, on one of the drivers.
trait TestLoop: Runtime {
    /// Builds one from `builder`, or `None` (after saying why) where its driver cannot be
    /// used here.
    fn from_builder(builder: EvloopBuilder) -> Option<Self>;
    /// The asyncio API.
    fn event_loop(&self) -> &EventLoop;
    /// A loop with debug mode off, whatever the environment says.
    fn new_loop() -> Option<Self> {
        Self::from_builder(Evloop::builder().debug(false))
    }
}

impl TestLoop for Evloop {
    fn from_builder(builder: EvloopBuilder) -> Option<Self> {
        Some(builder.build().expect("build evloop"))
    }
    fn event_loop(&self) -> &EventLoop {
        Evloop::event_loop(self)
    }
}

#[cfg(feature = "evloop-uring")]
impl TestLoop for super::EvloopUring {
    fn from_builder(builder: EvloopBuilder) -> Option<Self> {
        unavailable_is_explained(builder.build_io_uring())
    }
    fn event_loop(&self) -> &EventLoop {
        super::EvloopUring::event_loop(self)
    }
}

/// `Some` loop, or `None` after checking that the error is io_uring's one clear
/// unavailability reason (then the test skips, saying so).
#[cfg(feature = "evloop-uring")]
fn unavailable_is_explained<T>(built: std::io::Result<T>) -> Option<T> {
    match built {
        Ok(ev) => Some(ev),
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
            assert!(e.to_string().starts_with("io_uring unavailable: "), "{e}");
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// Declares each named generic test (`fn name<L: TestLoop>()`) once per driver: as
/// `epoll::name` and `io_uring::name`.
macro_rules! on_both_drivers {
    ($($name:ident),* $(,)?) => {
        mod epoll {
            $(
                #[test]
                fn $name() {
                    super::$name::<crate::evloop::Evloop>();
                }
            )*
        }
        #[cfg(feature = "evloop-uring")]
        mod io_uring {
            $(
                #[test]
                fn $name() {
                    super::$name::<crate::evloop::EvloopUring>();
                }
            )*
        }
    };
}
use on_both_drivers;

/// A shared log callbacks append to.
type Log<T> = Rc<RefCell<Vec<T>>>;

/// Slack for "not too late" checks: the test machine is small and busy.
const SLACK: Duration = Duration::from_secs(5);
