#!/usr/bin/env bash
# The full-size improve loop in both verifier modes side by side: the learning curve
# BENCHMARKS.md asks for.
#
#   CODEAGENT_DEVICE=cuda bash scripts/full_run.sh [OUT_DIR]           GPU: `--preset full`
#   PRESET=full-cpu bash scripts/full_run.sh [OUT_DIR]                 2 CPU cores, ~110 min
#
# OUT_DIR defaults to runs/$PRESET. The two loops run as two processes at once (decoding is bound
# by one Python thread each, so two share a GPU well; on CPU each gets half the cores). Rerunning
# the same command resumes both. Tuning, by environment variable: PRESET (default full),
# CONCURRENCY (sequences decoded together; default 256 on cuda, else the preset's), WORKERS (test
# sandboxes per loop; default 6 on cuda, else the preset's), BACKEND (default auto), EXTRA (more
# `improve` options).
set -u
py=$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python  # the project's environment, made by scripts/setup.sh
[ -x "$py" ] || { echo "no $py: run bash scripts/setup.sh first" >&2; exit 1; }
preset=${PRESET:-full}
out=${1:-runs/$preset}
cuda=$([ "${CODEAGENT_DEVICE:-cpu}" = cpu ] && echo 0 || echo 1)
opts=()
if [ $cuda = 1 ]; then
  opts+=(--concurrency "${CONCURRENCY:-256}" --workers "${WORKERS:-6}")
else
  [ -n "${CONCURRENCY:-}" ] && opts+=(--concurrency "$CONCURRENCY")
  [ -n "${WORKERS:-}" ] && opts+=(--workers "$WORKERS")
  # Two loops on one CPU: pin both decoding and training to the decoder's default share (half the
  # usable cores), instead of each training with torch's all-core pool.
  export CODEAGENT_THREADS=${CODEAGENT_THREADS:-$($py -c 'from codeagent.models.hf import default_threads; print(default_threads())')}
fi
mkdir -p "$out"
pids=()
for v in generated heldout; do
  "$py" -m codeagent improve --preset "$preset" --verifier $v --backend "${BACKEND:-auto}" \
    "${opts[@]}" ${EXTRA:-} --out "$out/$v" > "$out/$v.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for v in generated heldout; do
  echo "== $v ($out/$v.log)"
  grep -av "Loading weights\|it/s\]\|s/it\]" "$out/$v.log" | tail -12
done
echo "== the two modes task by task"
"$py" -m codeagent compare "$out/generated" "$out/heldout" || status=1
exit $status
