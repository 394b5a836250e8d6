"""Executors other than the in-process `LocalExecutor`, one per file; the file name is the
registry key in `codeagent.executor.EXECUTORS` (`ray.py` is `"ray"`). `localcluster.py` is not an
executor: it starts a local multi-node Ray cluster for tests and benchmarks."""
