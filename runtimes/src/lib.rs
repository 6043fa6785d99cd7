//! The runtimes loopbench measures, and the registry that selects one by id.
//!
//! Each outside runtime is one short adapter file behind one cargo feature; `evloop` is our
//! own event loop. Generic code reaches a runtime chosen at run time through
//! [`with_runtime`] and a [`RuntimeVisitor`], so `cfg(feature)` is decided here and never
//! leaks into callers.

// `unsafe` is allowed only in evloop's io_uring system-call module; everything else is
// checked safe.
#![deny(unsafe_code)]

use harness::Runtime;

#[cfg(feature = "async-std")]
pub mod async_std_rt;
#[cfg(any(feature = "tokio", feature = "monoio"))]
mod compat;
#[cfg(feature = "compio")]
pub mod compio_rt;
#[cfg(feature = "evloop")]
pub mod evloop;
#[cfg(feature = "monoio")]
pub mod monoio_rt;
#[cfg(any(feature = "compio", feature = "monoio"))]
pub mod percore;
#[cfg(feature = "smol")]
pub mod smol_rt;
#[cfg(feature = "tokio")]
pub mod tokio_rt;

/// Upstream crate versions as recorded in `Cargo.lock` at build time.
#[allow(dead_code)] // which constants are read depends on the enabled features
pub(crate) mod versions {
    pub const TOKIO: Option<&str> = option_env!("LOOPBENCH_VERSION_TOKIO");
    pub const ASYNC_STD: Option<&str> = option_env!("LOOPBENCH_VERSION_ASYNC_STD");
    pub const SMOL: Option<&str> = option_env!("LOOPBENCH_VERSION_SMOL");
    pub const ASYNC_EXECUTOR: Option<&str> = option_env!("LOOPBENCH_VERSION_ASYNC_EXECUTOR");
    pub const COMPIO: Option<&str> = option_env!("LOOPBENCH_VERSION_COMPIO");
    pub const MONOIO: Option<&str> = option_env!("LOOPBENCH_VERSION_MONOIO");
}

/// Something generic over a runtime, run for a runtime picked by id.
pub trait RuntimeVisitor {
    /// What the visit returns.
    type Output;
    /// Called with the runtime type the id names.
    fn visit<R: Runtime>(self) -> Self::Output;
}

/// Ids of every runtime compiled in, in display order.
pub fn runtime_ids() -> Vec<&'static str> {
    let mut ids = Vec::new();
    #[cfg(feature = "evloop")]
    ids.push(evloop::Evloop::ID);
    #[cfg(feature = "evloop-uring")]
    ids.push(evloop::EvloopUring::ID);
    #[cfg(feature = "tokio")]
    ids.extend([tokio_rt::TokioCt::ID, tokio_rt::TokioMt::ID]);
    #[cfg(feature = "async-std")]
    ids.push(async_std_rt::AsyncStd::ID);
    #[cfg(feature = "smol")]
    ids.extend([smol_rt::Smol::ID, smol_rt::SmolMt::ID]);
    #[cfg(feature = "compio")]
    ids.push(compio_rt::Compio::ID);
    #[cfg(feature = "monoio")]
    ids.push(monoio_rt::Monoio::ID);
    ids
}

/// Runs `visitor` with the runtime named `id`; `None` when no compiled-in runtime has it.
/// Besides [`runtime_ids`], this knows [`MUTANT_ID`] (and [`MUTANT_URING_ID`]) in builds
/// with the `mutants` feature.
pub fn with_runtime<V: RuntimeVisitor>(id: &str, visitor: V) -> Option<V::Output> {
    Some(match id {
        #[cfg(feature = "evloop")]
        evloop::Evloop::ID => visitor.visit::<evloop::Evloop>(),
        #[cfg(feature = "evloop-uring")]
        evloop::EvloopUring::ID => visitor.visit::<evloop::EvloopUring>(),
        #[cfg(feature = "mutants")]
        MUTANT_ID => visitor.visit::<evloop::EvloopMutant<evloop::Evloop>>(),
        #[cfg(all(feature = "mutants", feature = "evloop-uring"))]
        MUTANT_URING_ID => visitor.visit::<evloop::EvloopMutant<evloop::EvloopUring>>(),
        #[cfg(feature = "tokio")]
        tokio_rt::TokioCt::ID => visitor.visit::<tokio_rt::TokioCt>(),
        #[cfg(feature = "tokio")]
        tokio_rt::TokioMt::ID => visitor.visit::<tokio_rt::TokioMt>(),
        #[cfg(feature = "async-std")]
        async_std_rt::AsyncStd::ID => visitor.visit::<async_std_rt::AsyncStd>(),
        #[cfg(feature = "smol")]
        smol_rt::Smol::ID => visitor.visit::<smol_rt::Smol>(),
        #[cfg(feature = "smol")]
        smol_rt::SmolMt::ID => visitor.visit::<smol_rt::SmolMt>(),
        #[cfg(feature = "compio")]
        compio_rt::Compio::ID => visitor.visit::<compio_rt::Compio>(),
        #[cfg(feature = "monoio")]
        monoio_rt::Monoio::ID => visitor.visit::<monoio_rt::Monoio>(),
        _ => return None,
    })
}

/// Id of the runtime whose fault is chosen by `EVLOOP_MUTANT` (`mutants` feature only).
pub const MUTANT_ID: &str = "evloop-mutant";

/// The same faults on evloop's io_uring driver (`mutants` and `evloop-uring` features). The
/// scheduler, timer and task faults are shared code and strike there too; of the I/O
/// faults, `events_truncated` exists on epoll only.
pub const MUTANT_URING_ID: &str = "evloop-uring-mutant";

/// The environment variable naming an `evloop-mutant`'s fault.
pub const MUTANT_ENV: &str = "EVLOOP_MUTANT";

/// A deliberately broken evloop: its name (the value of [`MUTANT_ENV`]), the rule it breaks,
/// and what it breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mutant {
    /// `snake_case` name, e.g. `lifo_ready_queue`.
    pub name: &'static str,
    /// Reference rule it breaks first of all.
    pub rule: &'static str,
    /// One line.
    pub description: &'static str,
    /// Its kill is seen in time (something too early), which another cell's load can hide:
    /// its kill cells run alone.
    pub timing: bool,
}

/// Every mutant compiled in: all of evloop's faults with the `mutants` feature, none without.
pub fn mutants() -> Vec<Mutant> {
    #[cfg(feature = "mutants")]
    {
        evloop::mutants::FAULTS
            .iter()
            .map(|m| Mutant {
                name: m.name,
                rule: m.rule,
                description: m.description,
                timing: m.timing,
            })
            .collect()
    }
    #[cfg(not(feature = "mutants"))]
    {
        Vec::new()
    }
}

/// Builds the runtime `id` with the default configuration and returns its description.
pub fn runtime_info(id: &str) -> std::io::Result<harness::RuntimeInfo> {
    struct Info;
    impl RuntimeVisitor for Info {
        type Output = std::io::Result<harness::RuntimeInfo>;
        fn visit<R: Runtime>(self) -> Self::Output {
            Ok(R::build(&harness::RuntimeConfig::default())?.info())
        }
    }
    with_runtime(id, Info).unwrap_or_else(|| {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("unknown runtime '{id}'"),
        ))
    })
}

/// Resolves a `--runtime` argument (`all`, or comma-separated ids) to ids, or an error
/// message naming the valid ones.
pub fn parse_runtime_list(arg: &str) -> Result<Vec<&'static str>, String> {
    let known = runtime_ids();
    if arg.trim() == "all" {
        return Ok(known);
    }
    let mut out = Vec::new();
    for name in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match known.iter().find(|k| **k == name) {
            Some(id) if !out.contains(id) => out.push(*id),
            Some(_) => {}
            None => {
                return Err(format!(
                    "unknown runtime '{name}'; valid runtimes: {}, or 'all'",
                    known.join(", ")
                ))
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "no runtime given; valid runtimes: {}, or 'all'",
            known.join(", ")
        ));
    }
    Ok(out)
}

/// Whether `T` implements `Send`; used to prove adapters' handles are thread-safe.
#[cfg(test)]
fn assert_send_sync<T: Send + Sync>() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_runtime_names_valid_ones() {
        let err = parse_runtime_list("nosuch").unwrap_err();
        for id in runtime_ids() {
            assert!(err.contains(id), "{err}");
        }
    }

    #[test]
    fn all_and_lists() {
        assert_eq!(parse_runtime_list("all").unwrap(), runtime_ids());
        let first = runtime_ids()[0];
        assert_eq!(
            parse_runtime_list(&format!("{first},{first}")).unwrap(),
            vec![first]
        );
    }

    #[test]
    fn handles_are_send_sync() {
        struct Check;
        impl RuntimeVisitor for Check {
            type Output = ();
            fn visit<R: Runtime>(self) {
                assert_send_sync::<R::Handle>();
            }
        }
        for id in runtime_ids() {
            with_runtime(id, Check).unwrap();
        }
    }
}
