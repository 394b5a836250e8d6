"""Shared by the agent tests: run one agent on one task in a real local sandbox."""

from pathlib import Path

from codeagent.models import SamplingParams, load_model
from codeagent.sandbox import open_sandbox
from codeagent.trajectory import Attempt

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scripted"
BACKEND = "local"


def run_once(agent, task, script: str, wrap=None, **params) -> Attempt:
    """wrap: a function of the scripted model giving the model the agent talks to."""
    model = load_model(f"scripted:{FIXTURES / script}")
    model = wrap(model) if wrap else model
    attempt = Attempt(run_id="test", task_id=task.id, task_set=task.task_set, split=task.split,
                      sample_index=0, model=model.spec, agent=agent.name, agent_config=agent.config_dict())
    with open_sandbox(BACKEND, task.repo_files) as box:
        agent.run(task, box, model, SamplingParams(**params), attempt)
    return attempt


def heldout_passes(task, patch: str) -> bool:
    """The real check: apply the patch with git and run the task's held-out tests in a sandbox."""
    from codeagent.evaluation.engine import TestEngine, heldout_job
    from codeagent.evaluation.patching import apply_patch
    files = apply_patch(task.repo_files, patch)
    with TestEngine(BACKEND, workers=1) as engine:
        [report] = engine.run([heldout_job(task, files, task.id)])
    return report.passed
