#!/usr/bin/env bash
# The full-size improve loop (`--preset full`) in both verifier modes side by side: the learning
# curve BENCHMARKS.md asks for. Hours on 2 CPU cores; meant for a GPU machine:
#
#   CODEAGENT_DEVICE=cuda bash scripts/full_run.sh [OUT_DIR]      (default runs/full)
#
# The two loops run as two processes at once (decoding is bound by one Python thread each, so two
# share a GPU well). Rerunning the same command resumes both. Tuning, by environment variable:
# CONCURRENCY (sequences decoded together, default 256 on cuda, else 8), WORKERS (test sandboxes
# per loop, default 6 on cuda, else 1), BACKEND (default auto), EXTRA (more `improve` options).
set -u
out=${1:-runs/full}
cuda=$([ "${CODEAGENT_DEVICE:-cpu}" = cpu ] && echo 0 || echo 1)
conc=${CONCURRENCY:-$([ $cuda = 1 ] && echo 256 || echo 8)}
workers=${WORKERS:-$([ $cuda = 1 ] && echo 6 || echo 1)}
mkdir -p "$out"
pids=()
for v in generated heldout; do
  python3 -m codeagent improve --preset full --verifier $v --backend "${BACKEND:-auto}" \
    --concurrency "$conc" --workers "$workers" ${EXTRA:-} --out "$out/$v" > "$out/$v.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for v in generated heldout; do
  echo "== $v ($out/$v.log)"
  grep -av "Loading weights\|it/s\]\|s/it\]" "$out/$v.log" | tail -12
done
exit $status
