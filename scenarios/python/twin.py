#!/usr/bin/env python3
"""Runs one Python twin of a conformance scenario and prints its observation as the Rust
cells do: one line, `LOOPBENCH-CELL ` then the JSON (scenarios/src/lib.rs, "The cell
protocol").

    twin.py --scenario ID --loop asyncio|uvloop [--mutant NAME]
    twin.py --list        # JSON: {"twins": {id: [kills]}, "unsupported": {id: reason}, "mutants": {...}}

One file per scenario group (loop_order.py, timers.py, ... mirroring scenarios/src/*.rs);
each has TWINS (id -> function returning an observation), KILLS (id -> mutants it kills)
and UNSUPPORTED (id -> why asyncio has no counterpart).

Exit status: 0 when the observation was printed; 2 for bad arguments (an unknown scenario,
loop or mutant; uvloop not installed), with one line on stderr.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import twinlib  # noqa: E402

GROUPS = ["loop_order", "timers", "tasks", "cancel", "blocking", "sync", "net", "probes", "seeds", "selftest"]
MARKER = "LOOPBENCH-CELL "


def catalogue():
    twins, kills, unsupported = {}, {}, {}
    for name in GROUPS:
        mod = __import__(name)
        twins.update(mod.TWINS)
        kills.update(mod.KILLS)
        unsupported.update(getattr(mod, "UNSUPPORTED", {}))
    return twins, kills, unsupported


def main():
    p = argparse.ArgumentParser(description="Run one Python twin of a loopbench scenario.")
    p.add_argument("--scenario")
    p.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    p.add_argument("--mutant")
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    twins, kills, unsupported = catalogue()
    import mutants

    if a.list:
        print(json.dumps({
            "twins": {k: kills.get(k, []) for k in twins},
            "unsupported": unsupported,
            "mutants": {k: v[0] for k, v in mutants.MUTANTS.items()},
            "timing_mutants": sorted(mutants.TIMING),
        }))
        return 0
    if not a.scenario:
        print("twin.py: --scenario is required (or --list)", file=sys.stderr)
        return 2
    if a.scenario not in twins and a.scenario not in unsupported:
        print(f"twin.py: no twin for scenario '{a.scenario}'", file=sys.stderr)
        return 2
    if a.mutant is not None:
        if a.loop != "asyncio" or a.mutant not in mutants.MUTANTS:
            print(f"twin.py: unknown mutant '{a.mutant}' (mutants apply to --loop asyncio)", file=sys.stderr)
            return 2
        twinlib.LOOP_FACTORY = mutants.install(a.mutant)
    elif a.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            print("twin.py: uvloop is not installed in this Python", file=sys.stderr)
            return 2
        twinlib.LOOP_FACTORY = uvloop.new_event_loop
    twinlib.LOOP_NAME = a.loop
    if a.scenario in unsupported:
        obs = twinlib.unsupported(unsupported[a.scenario])
    else:
        try:
            obs = twins[a.scenario]()
        except Exception as e:  # noqa: BLE001 - a twin that raised observed a broken loop
            obs = twinlib.deviates(f"the twin raised {type(e).__name__}: {e}", "the twin completes")
    sys.stdout.write(MARKER + json.dumps(obs) + "\n")
    sys.stdout.flush()
    # Like `loopbench __cell`: stray threads (a mutant's, an abandoned job) must not delay
    # the exit once the observation is out.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
