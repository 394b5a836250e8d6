"""A real improve loop in-process, small: a scripted model attempts the tasks, sandboxes (local
backend) verify them, and only the trainer is a test double — it records nothing but hands back a
"checkpoint" that replies from a second script, so a test decides what the trained model does.

`loop(tmp, base_right, trained_right, ...)`: the base model solves the tasks in `base_right`, the
trained one those in `trained_right` (ids; every other task gets a wrong answer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the scenario's reply writers
from equivalence_scenario import _asserts, _solution  # noqa: E402


def write_script(path: Path, tasks, right: set[str]) -> Path:
    rules = []
    for t in tasks:
        rules.append({"match_last": f"test `{t.entry_point}` on", "reply": _asserts(t, right=True)})
        rules.append({"match_last": f"Complete the function `{t.entry_point}`",
                      "reply": "```python\n" + _solution(t, "ref" if t.id in right else "wrong") + "```\n"})
    path.write_text(json.dumps({"rules": rules}))
    return path


class Checkpoint:
    """`hf:PATH` of a checkpoint the fake trainer wrote: replies from `Checkpoint.script`."""

    script: Path

    def __new__(cls, path, **options):
        from codeagent.models.scripted import ScriptedModel
        return ScriptedModel(cls.script, spec=f"hf:{path}")


def fake_train(config):
    """Stands in for TRL (a scripted model has no weights)."""
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "training_log.json").write_text(json.dumps({"loss_curve": [[1, 1.0], [2, 0.5]]}))
    return config.out


def prepare(monkeypatch, root: Path, tasks, base_right: set[str], trained_right: set[str], **overrides):
    """The ci preset's config with these overrides, the scripted base model and the fake trainer in place."""
    import codeagent.models as models
    import codeagent.train.sft as sft
    from codeagent.improve import preset_config
    root.mkdir(parents=True, exist_ok=True)
    base = write_script(root / "base.json", tasks, base_right)
    Checkpoint.script = write_script(root / "trained.json", tasks, trained_right)
    monkeypatch.setattr(sft, "train_sft", fake_train)
    monkeypatch.setitem(models.PREFIXED, "hf", (f"{__name__}:Checkpoint", "PATH"))
    options = dict(task_set="pyfuncs", model=f"scripted:{base}", iterations=1, samples=2, backend="local",
                   workers=1, concurrency=4, max_steps=1)
    options.update(overrides)
    return preset_config("ci", **options)


def loop(monkeypatch, root: Path, tasks, base_right: set[str], trained_right: set[str], **overrides):
    """Run `improve` into root/loop; returns (cfg, metrics)."""
    from codeagent.improve import improve
    cfg = prepare(monkeypatch, root, tasks, base_right, trained_right, **overrides)
    return cfg, improve(cfg, root / "loop")
