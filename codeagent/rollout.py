"""One attempt of the run stage: `Rollout()((task, k)) -> Attempt`, made with a model replica and
a sandbox pool of its own.

A `Rollout` is what the run stage hands its executor. Before `open()` it is only its config, so
an executor running it in other processes (a Ray actor per replica) ships it cheaply and each
copy opens its own model there — from the spec (`hf:PATH` on a path every node can read, an
OpenAI-compatible server, the shipped GGUF), never weights sent per attempt — and its own
sandbox pool on that node. It only makes attempts; the driver alone writes them down.
"""

from __future__ import annotations

import threading
import time

from codeagent.agents import make_agent
from codeagent.agents.base import derive_seed
from codeagent.models import SamplingParams, load_model, widen_batch
from codeagent.sandbox import SandboxError
from codeagent.tasks import Task
from codeagent.trajectory import Attempt


class Rollout:
    """Makes attempts for run `run_id` of `config` (a `codeagent.run.RunConfig`)."""

    def __init__(self, config, run_id: str, log_dir=None):
        """log_dir: where a model that runs a server of its own keeps its log (the run folder)."""
        self.config = config
        self.run_id = run_id
        self.log_dir = log_dir
        self._lock = threading.Lock()
        self._model = self._pool = self._agent = None

    def open(self) -> None:
        """Load the model and start the sandbox pool, in the process that makes the attempts."""
        from codeagent.sandbox.pool import SandboxPool
        with self._lock:
            if self._model is not None:
                return
            config = self.config
            self._agent = make_agent(config.agent, **config.agent_kwargs())
            options = {**config.model_options, **({"base_url": config.base_url} if config.base_url else {})}
            model = load_model(config.model, log_dir=self.log_dir, **options)  # a served model's log stays with the run
            widen_batch(model, config.concurrency)  # concurrent attempts share one batch
            try:
                self._pool = SandboxPool(config.backend, size=config.concurrency, limits=config.limits,
                                         quiet=not config.progress)
            except BaseException:
                model.close()
                raise
            self._model = model

    def __call__(self, item: tuple[Task, int]) -> Attempt:
        task, k = item
        if self._model is None:
            self.open()
        config, agent, model, pool = self.config, self._agent, self._model, self._pool
        a = Attempt(run_id=self.run_id, task_id=task.id, task_set=task.task_set, split=task.split,
                    sample_index=k, model=model.spec, agent=agent.name, agent_config=agent.config_dict(),
                    sandbox_backend=pool.backend)
        params = SamplingParams(n=1, temperature=config.temperature, top_p=config.top_p,
                                max_tokens=config.max_tokens, seed=derive_seed(config.seed, task.id, k))
        t0 = time.monotonic()
        try:
            with pool.checkout(task.repo_files) as box:  # repo files only: never held-out tests
                agent.run(task, box, model, params, a)
        except SandboxError as e:
            a.exit_status, a.error = "sandbox-error", str(e)
        a.timings["total_s"] = round(time.monotonic() - t0, 3)
        return a

    def close(self) -> None:
        with self._lock:
            pool, model, self._pool, self._model = self._pool, self._model, None, None
        if pool is not None:
            pool.close()
        if model is not None:
            model.close()

    def __getstate__(self) -> dict:
        # What travels to another process: the config, never an opened model or pool.
        return {"config": self.config, "run_id": self.run_id, "log_dir": self.log_dir}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["config"], state["run_id"], state.get("log_dir"))
