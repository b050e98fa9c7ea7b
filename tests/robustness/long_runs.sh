#!/usr/bin/env bash
# The long robustness runs recorded in tests/benchmarks/RESULTS.md ("Robustness (issue 8)").
# Usage: tests/robustness/long_runs.sh fuzz|workspaces|sessions|soak   (from the repository root)
# Each writes its summary lines to stdout; run one at a time on a shared machine (nice -n 10).
set -euo pipefail
PY=${PYTHON:-python}
case "${1:-}" in
  fuzz)  # 100,000 cases: 10 reproducible batches of 10,000, a fresh server each; SEEDS and JOBS
    # (batches at once: a batch spends most of its time waiting on round trips) are settable.
    export PY
    printf '%s\n' ${SEEDS:-$(seq 1 10)} | xargs -P "${JOBS:-1}" -I{} bash -c \
      'GEMMA_FUZZ_SEED={} GEMMA_FUZZ_CASES=10000 $PY -m pytest tests/robustness/test_protocol_fuzz.py -k every -x -q -s -p no:cacheprovider 2>&1 | grep -E "protocol fuzz|passed|failed|Error" | sed "s/^/seed {}: /" || true' ;;
  workspaces) GEMMA_HOSTILE_TREES=${GEMMA_HOSTILE_TREES:-50} $PY -m pytest tests/robustness/test_hostile_workspaces.py -x -q -s -p no:cacheprovider ;;
  sessions) GEMMA_EDIT_SESSIONS=${GEMMA_EDIT_SESSIONS:-1000} $PY -m pytest tests/robustness/test_data_safety.py -x -q -s -p no:cacheprovider ;;
  soak) GEMMA_SOAK_REQUESTS=${GEMMA_SOAK_REQUESTS:-10000} GEMMA_SOAK_MODEL_CALLS=${GEMMA_SOAK_MODEL_CALLS:-300} $PY -m pytest tests/robustness/test_soak.py -x -q -s -p no:cacheprovider ;;
  *) echo "usage: $0 fuzz|workspaces|sessions|soak" >&2; exit 2 ;;
esac
