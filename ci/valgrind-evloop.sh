#!/usr/bin/env bash
# Runs evloop's unit tests under valgrind memcheck, its io_uring system-call layer's
# (sys_uring, feature evloop-uring) included; fails on any memory error.
# Usage: ci/valgrind-evloop.sh   (from anywhere inside the workspace)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "valgrind-evloop: valgrind not installed" >&2; exit 2; }

# Build the test binary of the loopbench-runtimes library and ask cargo where it is.
bin=$(cargo test -p loopbench-runtimes --features evloop-uring --lib --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if (m.get("reason") == "compiler-artifact" and m.get("executable")
            and "#loopbench-runtimes@" in m.get("package_id", "")
            and "lib" in m["target"]["kind"] and m["profile"]["test"]):
        print(m["executable"])
')
[ -n "$bin" ] || { echo "valgrind-evloop: cannot find the loopbench-runtimes test binary" >&2; exit 2; }

echo "valgrind-evloop: $bin" >&2
exec valgrind --error-exitcode=1 --leak-check=no "$bin" evloop --test-threads=1
