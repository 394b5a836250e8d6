"""The `--executor` / `--ray-address` options shared by run, verify, eval and improve."""

from __future__ import annotations


def add_executor_arguments(p) -> None:
    from codeagent.executor import EXECUTORS
    p.add_argument("--executor", choices=sorted(EXECUTORS), default=None,
                   help="where the work fans out: local (threads, default) or ray (workers across a Ray "
                        "cluster; pip install 'codeagent[ray]')")
    p.add_argument("--ray-address", metavar="HOST:PORT",
                   help="with --executor ray: a running cluster's address (default: the cluster `ray start` "
                        "runs on this machine or $RAY_ADDRESS, else a private one for this command)")


def executor_choice(args) -> tuple[str | None, dict]:
    """(executor name or None for the default, its options) from the parsed arguments."""
    from codeagent.errors import UserError
    if args.ray_address and args.executor != "ray":
        raise UserError("--ray-address needs --executor ray")
    return args.executor, ({"address": args.ray_address} if args.ray_address else {})
