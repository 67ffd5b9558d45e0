#!/usr/bin/env bash
# The quick asv pass (tox -e bench): every benchmark once, in the current environment,
# under this machine's hardware name. Saves nothing; extra arguments go to `asv run`
# (e.g. -b training.TimeEpoch). Prints the wall time at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
machine=$(harness machine --json | python -c 'import json, sys; print(json.load(sys.stdin)["machine"])')
start=$SECONDS
asv run --python=same --quick --show-stderr --machine "$machine" "$@"
echo "asv quick pass on $machine: $((SECONDS - start)) s"
