#!/usr/bin/env bash
# Makes the independent readers the export tests use: a Python virtual environment under
# target/ (target/loopbench-python, or $LOOPBENCH_PYTHON_ENV) with the packages of
# ci/readers/requirements.txt (the PyPI `hdrhistogram` package, HdrHistogram's Python port).
# Idempotent and quick once made. Prints the environment's python on its last line.
# Exit status: 0 ready; 1 it cannot be made here (the reason on stderr: no python3, no venv
# module, or pip could not install).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${LOOPBENCH_PYTHON_ENV:-$root/target/loopbench-python}"
py="$venv/bin/python"
probe='import hdrh.log, hdrh.histogram'
if [ -x "$py" ] && "$py" -c "$probe" 2>/dev/null; then
    echo "$py"
    exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "readers: python3 not found (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
fi
if ! python3 -m venv "$venv" >&2; then
    echo "readers: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2
    exit 1
fi
if ! "$py" -m pip install --quiet --disable-pip-version-check -r "$root/ci/readers/requirements.txt" >&2; then
    echo "readers: pip could not install ci/readers/requirements.txt into $venv" >&2
    exit 1
fi
"$py" -c "$probe"
echo "$py"
