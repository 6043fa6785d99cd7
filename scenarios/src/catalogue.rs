//! The list of every scenario. Adding a scenario means adding its type here, once: the list
//! gives [`ALL`] (from which `tests/cells.rs` makes one test per scenario × runtime) and
//! [`run_by_id`].

use harness::Runtime;

use crate::{Observation, Scenario, ScenarioDef};

macro_rules! catalogue {
    ($($module:ident :: $scenario:ident),* $(,)?) => {
        /// Every scenario, self-tests included, in display order.
        pub static ALL: &[&ScenarioDef] = &[$(&<crate::$module::$scenario as Scenario>::DEF),*];

        /// Runs the scenario with this id on runtime `R`; `None` for an unknown id.
        pub fn run_by_id<R: Runtime>(id: &str) -> Option<Observation> {
            $(
                if id == <crate::$module::$scenario as Scenario>::DEF.id {
                    return Some(<crate::$module::$scenario as Scenario>::run::<R>());
                }
            )*
            None
        }
    };
}

catalogue! {
    blocking::PoolLimit,
    blocking::LoopNotStalled,
    blocking::BlockingPanic,
    blocking::PoolSaturation,
    blocking::DropWaitsForJob,
    blocking::FromPlainThread,
    loop_order::RunUntilComplete,
    loop_order::RunForeverStop,
    loop_order::CallSoonFifo,
    loop_order::CallSoonOneAtATime,
    loop_order::CallSoonNotNested,
    loop_order::CallSoonBeforeTimer,
    loop_order::CallLaterNotEarly,
    loop_order::CallAtNotEarly,
    loop_order::TimeMonotonic,
    loop_order::CallSoonThreadsafeWakes,
    loop_order::ThreadsafeOrder,
    loop_order::ProgressWithoutRun,
    loop_order::DebugSlowCallback,
    loop_order::DebugNeverPolled,
    timers::SleepZeroSuspends,
    timers::SleepUntilPast,
    timers::SleepResolution,
    timers::DeadlineOrder,
    timers::ManyTimers,
    timers::HundredThousandTimers,
    timers::CancelledTimer,
    timers::IntervalCatchUp,
    tasks::JoinSetOnce,
    tasks::DoneCallbackViaLoop,
    tasks::WakeIsScheduled,
    tasks::TaskStartsLater,
    tasks::SpawnFromCallback,
    tasks::ResultToEveryAwaiter,
    tasks::AwaitFinishedTask,
    tasks::ManyTasks,
    tasks::CoroutinesCompose,
    cancel::AbortAtSuspension,
    cancel::AbortFinished,
    cancel::CancelBeforeStart,
    cancel::CancelWhileReading,
    cancel::CleanupRuns,
    cancel::WaitFor,
    cancel::WaitDonePending,
    cancel::GatherOrder,
    cancel::AsCompletedOrder,
    sync::LockFifo,
    sync::LockWaiterCancelled,
    sync::EventWakesAll,
    sync::ConditionNotify,
    sync::SemaphoreLimit,
    sync::SemaphoreFifo,
    sync::TokioSemaphoreLimit,
    sync::AsyncLockSemaphoreLimit,
    sync::QueueFifoBounds,
    sync::QueueGettersFifo,
    sync::TokioMpscBounded,
    net::EchoRoundtrip,
    net::ConcurrentClients,
    net::AcceptBacklog,
    net::HalfClose,
    net::CloseShutsWrite,
    net::EofAfterShortRead,
    net::Backpressure,
    net::GracefulClose,
    net::ConnectRefused,
    net::ReadWithTimeLimit,
    probes::DropJoinHandle,
    probes::PanicAwaited,
    probes::PanicDetached,
    probes::StarvedTimer,
    probes::StarvedTask,
    probes::YieldAlternates,
    probes::CoopBudget,
    probes::NestedBlockOn,
    probes::SpawnFromThread,
    probes::RuntimeDropCleanup,
    probes::SpawnOrderFromTask,
    probes::SpawnOrderFromThread,
    probes::WakeupLatency,
    probes::IoVsTimer,
    probes::ForeignTokioSleep,
    probes::ForeignTokioTcp,
    seeds::SeedTasks,
    seeds::SeedCallbacks,
    seeds::SeedFuture,
    seeds::SeedFutureException,
    seeds::SeedGather,
    seeds::SeedWaitTimeout,
    seeds::SeedLock,
    seeds::SeedEvent,
    seeds::SeedCondition,
    seeds::SeedExecutorGather,
    selftest::Hang,
    selftest::Abort,
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
    fn every_rule_is_covered_and_every_scenario_names_a_rule() {
        for rule in harness::rules::RULES {
            assert!(
                ALL.iter().any(|d| !d.selftest && d.rule == rule.id),
                "{} uncovered",
                rule.id
            );
        }
        for d in ALL.iter().filter(|d| !d.selftest) {
            assert!(
                harness::rules::rule_text(d.rule).is_some(),
                "{}: rule {} is not in harness::rules",
                d.id,
                d.rule
            );
        }
        assert!(ALL.iter().filter(|d| !d.selftest).count() >= 90);
    }

    #[test]
    fn every_scenario_declares_a_mutant_it_kills() {
        for d in ALL.iter().filter(|d| !d.selftest) {
            assert!(!d.kills.is_empty(), "{} kills no mutant", d.id);
        }
    }
}
