#!/usr/bin/env bash
# GPU readiness in one command (at most 8 minutes on a GPU machine): the CUDA and JAX-GPU
# parity subset (forward and VJP against the reference) and the training comparison with
# its timings (harness compare: device sync before every timer, JIT compile apart), then
# one summary file, results/gpu_check/summary.json (or $1).
#
# Exit codes: 0 every GPU target passed, or no GPU target is available (the summary says
# "unavailable" with discovery's reason: nothing to check is not a failure of this
# script); 1 a GPU check failed; 2 usage (a bad argument).
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -le 1 ] || { echo "usage: benchmarks/gpu_check.sh [SUMMARY.json]" >&2; exit 2; }
summary=${1:-results/gpu_check/summary.json}
mkdir -p "$(dirname "$summary")" results/gpu_check
backends=$(harness backends --json) || exit 1
gpu=$(python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
rows = rows if isinstance(rows, list) else rows.get("targets", [])
print(",".join(r["target"] for r in rows
      if r["available"] and r["device"] in ("cuda", "gpu") and not r["world_size"]))
' "$backends")
if [ -z "$gpu" ]; then
    python3 - "$summary" "$backends" <<'PY'
import json, sys
rows = json.loads(sys.argv[2])
rows = rows if isinstance(rows, list) else rows.get("targets", [])
reasons = {r["target"]: r["reason"] for r in rows if r["device"] in ("cuda", "gpu")}
doc = {"status": "unavailable", "reason": "no available GPU target", "targets": reasons}
open(sys.argv[1], "w").write(json.dumps(doc, indent=2) + "\n")
print(f"gpu_check: unavailable ({'; '.join(f'{k}: {v}' for k, v in reasons.items())})")
PY
    exit 0
fi
status=0
timeout 360 harness parity --targets "$gpu" --json --out results/gpu_check/parity \
    -- -k "test_forward or test_vjp_reference" > results/gpu_check/parity.json || status=1
timeout 100 harness compare --targets "$gpu" --json --no-plots --out results/gpu_check/runs \
    > results/gpu_check/compare.json || status=1
python3 - "$summary" "$gpu" "$status" <<'PY'
import json, sys
def load(p):
    try:
        return json.load(open(p))
    except (OSError, ValueError) as e:
        return {"error": str(e)}
doc = {"status": "pass" if sys.argv[3] == "0" else "fail", "targets": sys.argv[2].split(","),
       "parity": load("results/gpu_check/parity.json"),
       "compare": load("results/gpu_check/compare.json")}
open(sys.argv[1], "w").write(json.dumps(doc, indent=2) + "\n")
print(f"gpu_check: {doc['status']} ({sys.argv[2]}); summary {sys.argv[1]}")
PY
exit $status
