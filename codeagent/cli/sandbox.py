"""codeagent sandbox: build the image, check a backend against hostile code, show what `auto` picks."""

import argparse
import sys
from pathlib import Path

HELP = ("build the docker sandbox image, check a backend against hostile code, show status "
        "(the local backend is WEAKER isolation than docker)")

DESCRIPTION = """\
Sandbox backends:
  docker  real isolation: no network, read-only root, non-root user, all capabilities dropped,
          cgroup memory/CPU/pids limits. Needs the Docker daemon and the image (`codeagent sandbox build`).
  local   WEAKER isolation than Docker: a subprocess as an unprivileged user with rlimits (and
          PID/network namespaces where the machine allows). Not a security boundary.
  auto    docker when the daemon answers and the image exists, else local.

  build   make the image (from a registry, or offline with debootstrap); does nothing if it exists
  check   run the hostile-code checks (fork/memory bombs, network, timeouts, ...) against a backend
  status  is the daemon up? is the image there? which backend does auto pick and why?"""


def add_arguments(p) -> None:
    p.description = DESCRIPTION
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="build the docker sandbox image (offline fallback via debootstrap)")
    b.add_argument("--force", action="store_true", help="rebuild even if the image exists")
    c = sub.add_parser("check", help="run the hostile-code checks against a backend "
                                     "(local is WEAKER isolation than docker)")
    c.add_argument("--backend", default="auto", choices=["auto", "docker", "local"], help="backend to check")
    c.add_argument("--out", default=None, help="also write the check results here (JSON)")
    sub.add_parser("status", help="daemon, image, and which backend auto picks")


def run(args) -> int:
    return {"build": _build, "check": _check, "status": _status}[args.action](args)


def _build(args) -> int:
    from codeagent.sandbox.image import build_image
    build_image(force=args.force, say=lambda line: print(line, flush=True))
    return 0


def _check(args) -> int:
    from codeagent.sandbox import resolve_backend
    from codeagent.sandbox.check import main_check
    return main_check(resolve_backend(args.backend), Path(args.out) if args.out else None)


def _status(args) -> int:
    from codeagent.sandbox.docker import docker_status, _daemon_url
    from codeagent.sandbox.image import image_tag
    usable, why = docker_status()
    daemon_up = usable or "not reachable" not in why
    print(f"docker daemon : {'up' if daemon_up else 'DOWN'} ({_daemon_url()})")
    print(f"image         : {image_tag()} {'present' if usable else ('missing' if daemon_up else 'unknown')}")
    print(f"auto picks    : {'docker' if usable else 'local (WEAKER isolation than docker)'}")
    print(f"why           : {why}")
    sys.stdout.flush()
    return 0
