//! The list of every scenario. Adding a scenario means adding its type here, once.

use harness::Runtime;

use crate::{Observation, Scenario, ScenarioDef};

macro_rules! catalogue {
    ($($scenario:path),* $(,)?) => {
        /// Every scenario, self-tests included, in display order.
        pub static ALL: &[&ScenarioDef] = &[$(&<$scenario as Scenario>::DEF),*];

        /// Runs the scenario with this id on runtime `R`; `None` for an unknown id.
        pub fn run_by_id<R: Runtime>(id: &str) -> Option<Observation> {
            $(
                if id == <$scenario as Scenario>::DEF.id {
                    return Some(<$scenario as Scenario>::run::<R>());
                }
            )*
            None
        }
    };
}

catalogue! {
    // First: the `blocking` crate's pool is sized once per process, at first use.
    crate::blocking::PoolLimit,
    crate::blocking::LoopNotStalled,
    crate::blocking::BlockingPanic,
    crate::loop_order::RunUntilComplete,
    crate::loop_order::RunForeverStop,
    crate::loop_order::CallSoonFifo,
    crate::loop_order::CallSoonOneAtATime,
    crate::loop_order::CallSoonBeforeTimer,
    crate::loop_order::CallLaterNotEarly,
    crate::loop_order::CallAtNotEarly,
    crate::loop_order::TimeMonotonic,
    crate::loop_order::CallSoonThreadsafeWakes,
    crate::loop_order::DebugSlowCallback,
    crate::loop_order::DebugNeverPolled,
    crate::timers::SleepZeroSuspends,
    crate::timers::SleepResolution,
    crate::timers::DeadlineOrder,
    crate::timers::ManyTimers,
    crate::timers::CancelledTimer,
    crate::tasks::FutureSetOnce,
    crate::tasks::DoneCallbackViaLoop,
    crate::tasks::WakeIsScheduled,
    crate::tasks::TaskStartsLater,
    crate::tasks::ResultToEveryAwaiter,
    crate::tasks::AwaitFinishedTask,
    crate::tasks::CoroutinesCompose,
    crate::cancel::AbortAtSuspension,
    crate::cancel::AbortFinished,
    crate::cancel::CleanupRuns,
    crate::cancel::WaitFor,
    crate::cancel::WaitDonePending,
    crate::cancel::GatherOrder,
    crate::cancel::AsCompletedOrder,
    crate::sync::LockFifo,
    crate::sync::EventWakesAll,
    crate::sync::ConditionNotify,
    crate::sync::SemaphoreLimit,
    crate::sync::TokioSemaphoreLimit,
    crate::sync::AsyncLockSemaphoreLimit,
    crate::sync::QueueFifoBounds,
    crate::sync::TokioMpscBounded,
    crate::sync::TokioNotifyAsEvent,
    crate::net::EchoRoundtrip,
    crate::net::ConcurrentClients,
    crate::net::HalfClose,
    crate::net::Backpressure,
    crate::net::GracefulClose,
    crate::net::ConnectRefused,
    crate::probes::DropJoinHandle,
    crate::probes::PanicAwaited,
    crate::probes::PanicDetached,
    crate::probes::StarvedTimer,
    crate::probes::StarvedTask,
    crate::probes::CoopBudget,
    crate::probes::NestedBlockOn,
    crate::probes::SpawnFromThread,
    crate::probes::RuntimeDropCleanup,
    crate::probes::SpawnOrderFromTask,
    crate::probes::SpawnOrderFromThread,
    crate::probes::WakeupLatency,
    crate::probes::ReacquireAsyncioLock,
    crate::probes::ReacquireTokioMutex,
    crate::probes::ReacquireAsyncLockMutex,
    crate::probes::ReacquireTokioSemaphore,
    crate::probes::ReacquireAsyncLockSemaphore,
    crate::seeds::SeedTasks,
    crate::seeds::SeedChaining,
    crate::seeds::SeedCallbacks,
    crate::seeds::SeedFuture,
    crate::seeds::SeedFutureException,
    crate::seeds::SeedGather,
    crate::seeds::SeedWaitTimeout,
    crate::seeds::SeedLock,
    crate::seeds::SeedEvent,
    crate::seeds::SeedCondition,
    crate::seeds::SeedExecutorGather,
    crate::selftest::Hang,
    crate::selftest::Abort,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut ids: Vec<_> = ALL.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate scenario id");
        for d in ALL {
            assert!(d.id.starts_with(&format!("{}.", d.group)), "{}", d.id);
            assert!(!d.rule.is_empty() && !d.title.is_empty(), "{}", d.id);
        }
    }

    #[test]
    fn every_rule_of_the_reference_is_covered() {
        let rules = [
            "L1", "L2", "L3", "L4", "L5", "L6", "L7", "F1", "F2", "F3", "F4", "F5", "F6", "C1",
            "C2", "C3", "C4", "C5", "C6", "T1", "T2", "S1", "S2", "S3", "S4", "S5", "N1", "N2",
            "N3", "N4", "N5", "N6",
        ];
        for rule in rules {
            assert!(
                ALL.iter().any(|d| !d.selftest && d.rule == rule),
                "{rule} uncovered"
            );
        }
        assert!(ALL.iter().filter(|d| !d.selftest).count() >= 40);
    }
}
