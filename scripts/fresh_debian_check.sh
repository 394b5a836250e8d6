#!/usr/bin/env bash
# Does README command 1's set-up work on a stock Debian 12 machine? Debootstrap a minimal bookworm
# into a temporary folder, copy this checkout in (the files `git ls-files` names, as they are in
# the working tree), and inside that chroot run scripts/setup.sh (CODEAGENT_NO_DOCKER=1: a chroot
# has no Docker) and a fast subset of the tests. Prints one line with the outcome and the times.
#
#   bash scripts/fresh_debian_check.sh              # pip as configured on this machine (see below)
#   bash scripts/fresh_debian_check.sh --stock-pip  # pip with no configuration at all: PyPI only
#   TESTS="tests/tasks -k pyfuncs" bash scripts/fresh_debian_check.sh   # another test subset
#
# Needs root, debootstrap and network access to the Debian mirror apt uses here and to the
# package index; about 6 minutes (figures in BENCHMARKS.md). Run it after changing setup.sh,
# pyproject.toml's dependencies or anything the first command of the README relies on.
#
# What it proves, and what not: the chroot is a stock bookworm userland (its python3 has no pip
# and is externally managed, PEP 668; both are checked before set-up), so set-up must create and
# fill its own venv. Pip inside gets *this machine's* pip configuration (config files, PIP_*
# variables, the local wheel folders they name, mounted read-only), because that is what decides
# which torch build pip picks: PyPI's torch==2.13.0 for Linux x86_64 is the CUDA build (it
# requires cuda-toolkit and nvidia-* wheels, gigabytes), the CPU build is not on PyPI. The check
# prints the torch build it got, and fails unless it is the CPU build. `--stock-pip` drops the
# configuration (then set-up downloads the CUDA build from PyPI, works, but is slow and large).
# The chroot shares this machine's network, its DNS (resolv.conf) and its local certificate
# authorities (/usr/local/share/ca-certificates: a TLS-inspecting proxy's CA, where there is one).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
log() { printf '\033[1m[fresh-debian]\033[0m %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pip_mode=host
case "${1:-}" in
  "") ;;
  --stock-pip) pip_mode=stock ;;
  *) die "unknown option ${1}; usage: bash scripts/fresh_debian_check.sh [--stock-pip]" ;;
esac
# (passed to a shell inside the chroot: quote as on a command line)
tests=${TESTS:-"tests/tasks tests/improve/test_paired.py tests/improve/test_config.py tests/report -m 'not slow and not docker and not model'"}
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts); rerun as root"
command -v debootstrap >/dev/null || die "debootstrap is missing; apt-get install debootstrap"
command -v git >/dev/null || die "git is missing; apt-get install git"

work=$(mktemp -d /var/tmp/codeagent-fresh-debian.XXXXXX)
root=$work/root
mounts=()  # mounted inside $root, in mount order
cleanup() {
  local i
  for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -R "${mounts[$i]}" 2>/dev/null || umount -l "${mounts[$i]}" || true; done
  # Never delete through a mount (the bind mounts are host folders): refuse if any is left.
  if findmnt -rn -o TARGET | grep -q "^$root"; then
    log "mounts are left under $root; not deleting it (umount them, then rm -rf $work)"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount_in() {  # mount_in TARGET_IN_ROOT mount-args...
  mkdir -p "$root$1"
  mount "${@:2}" "$root$1"
  mounts+=("$root$1")
}
bind_ro() {  # a host folder, read-only, at the same path inside the chroot
  mount_in "$1" --bind "$1"
  mount -o remount,bind,ro "$root$1"
}

t0=$(date +%s)
# --- a stock bookworm -------------------------------------------------------------------------
# Debian's mirror as apt uses it here; the sandbox image's offline build picks it the same way.
read -r suite mirror < <(python3 -I -c "
import sys; sys.path.insert(0, '$repo')
from codeagent.sandbox.image import SUITE, debian_mirror; print(SUITE, debian_mirror())")
# minbase plus what every installed Debian server has (python3, CA certificates); downloaded
# .debs are kept between checks (debootstrap verifies them against the signed Release file).
debs=${XDG_CACHE_HOME:-$HOME/.cache}/codeagent/fresh-debian-debs
mkdir -p "$debs"
log "debootstrap $suite from $mirror into $root"
debootstrap --variant=minbase --include=python3,ca-certificates --cache-dir="$debs" \
  "$suite" "$root" "$mirror" > "$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log"; die "debootstrap failed; log above"; }
t_boot=$(( $(date +%s) - t0 ))

mount_in /proc -t proc proc
mount_in /sys -t sysfs -o ro sysfs
mount_in /dev --rbind /dev
mount --make-rslave "$root/dev"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# The network's own certificate authorities (e.g. a TLS-inspecting egress proxy) that this machine
# trusts: without them nothing reaches the package index over HTTPS from here.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the chroot"
  log "trusting this machine's local CAs: $(cd /usr/local/share/ca-certificates && echo *.crt)"
fi

# --- this machine's pip configuration (unless --stock-pip) -------------------------------------
envs=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
      CODEAGENT_NO_DOCKER=1 DEBIAN_FRONTEND=noninteractive)
if [ $pip_mode = host ]; then
  conf=()
  for f in /etc/pip.conf /etc/xdg/pip/pip.conf /etc/xdg/pip/constraints.txt "$HOME/.config/pip/pip.conf" "$HOME/.pip/pip.conf"; do
    [ -f "$f" ] || continue
    dest=$root${f/#$HOME//root}
    mkdir -p "$(dirname "$dest")" && cp "$f" "$dest" && conf+=("$f")
  done
  while IFS= read -r v; do envs+=("$v"); done < <(env | grep '^PIP_' || true)
  # Local folders the configuration names (find-links, file:// indexes) are mounted read-only.
  # A file:// index is DIR/simple whose pages link to DIR/files: mount DIR.
  for d in $( (cat "${conf[@]}" /dev/null; env | grep '^PIP_' || true) | grep -o '/[A-Za-z0-9._/-]*' \
              | xargs -r realpath -m | sed 's#/simple$##' | sort -u); do
    case "$d" in /|/etc|/etc/*|/root|/root/*|/usr|/usr/*|"$HOME"|"$HOME"/*) continue ;; esac
    if [ -d "$d" ]; then bind_ro "$d"; log "pip: $d mounted read-only"; fi
  done
  log "pip: this machine's configuration: ${conf[*]:-no files} $(env | grep -o '^PIP_[A-Z_]*' | tr '\n' ' ')"
else
  log "pip: no configuration (--stock-pip): packages come from PyPI only"
fi

log "copying the checkout (git ls-files) to /root/codeagent"
mkdir -p "$root/root/codeagent"
git ls-files -z | tar --null --ignore-failed-read -T - -cf - | tar -C "$root/root/codeagent" -xf -

in_chroot() { chroot "$root" /usr/bin/env -i "${envs[@]}" bash -c "$1"; }

# --- the machine is stock: its python3 has no pip and is externally managed -------------------
in_chroot 'python3 --version; ! python3 -m pip --version 2>/dev/null && echo "python3 has no pip"
           ls /usr/lib/python3*/EXTERNALLY-MANAGED' >&2 || die "the chroot is not a stock bookworm (see above)"

# --- README command 1's set-up, then a fast subset of the tests -------------------------------
t1=$(date +%s)
log "bash scripts/setup.sh (CODEAGENT_NO_DOCKER=1)"
in_chroot 'cd /root/codeagent && bash scripts/setup.sh' || die "setup.sh failed in the chroot (output above)"
t_setup=$(( $(date +%s) - t1 ))
torch=$(in_chroot 'cd /root/codeagent && .venv/bin/python -c "import torch; print(torch.__version__, \"cuda=%s\" % torch.version.cuda)"')
venv_mb=$(du -sm "$root/root/codeagent/.venv" | cut -f1)
log "torch $torch, .venv $venv_mb MB"
if [ $pip_mode = host ] && [[ "$torch" != *"cuda=None"* ]]; then
  die "set-up installed a CUDA build of torch ($torch), not the CPU build"
fi

t2=$(date +%s)
log "pytest $tests"
in_chroot "cd /root/codeagent && .venv/bin/python -m pytest -p no:cacheprovider -q $tests" \
  || die "tests failed in the chroot (output above)"
t_tests=$(( $(date +%s) - t2 ))
echo "fresh_debian_check: PASS (pip: $pip_mode) debootstrap ${t_boot}s, setup ${t_setup}s, tests ${t_tests}s," \
     "total $(( $(date +%s) - t0 ))s; torch $torch; .venv ${venv_mb} MB"
