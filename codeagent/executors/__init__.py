"""Executors other than the in-process `LocalExecutor`, one per file; the file name is the
registry key in `codeagent.executor.EXECUTORS`."""
