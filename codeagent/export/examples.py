"""Turning one accepted attempt into a clean chat example.

Single-turn attempts: the agent's prompt (system + user) and, as the reply, the verified solution
itself in one fenced block — the patched prompt file as ```python (what the agent is asked to
write), or the patch as ```diff when it touches other files. Whatever prose or broken extra
blocks the agent produced around it are left out: the model learns the answer, not the noise.
Multi-turn (bash) attempts keep their recorded turns up to the agent's last reply.
"""

from __future__ import annotations

from codeagent.evaluation.patching import PatchError, apply_patch
from codeagent.tasks.base import Task
from codeagent.trajectory import Attempt

from .base import Example

ROLES = ("system", "user", "assistant")


class Unusable(Exception):
    """An attempt that cannot become an example; `reason` goes into the drop report."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def build_example(attempt: Attempt, task: Task) -> Example:
    """The clean example of `attempt`, or Unusable saying why there is none."""
    if not attempt.patch.strip():
        raise Unusable("empty-patch")
    try:
        after = apply_patch(task.repo_files, attempt.patch)
    except PatchError as e:
        raise Unusable("patch-does-not-apply", str(e))
    changed = sorted(p for p, c in after.items() if task.repo_files.get(p) != c)
    if not changed:
        raise Unusable("empty-patch", "the patch changes nothing")
    only_prompt_file = task.prompt_file is not None and changed == [task.prompt_file]
    code = after[task.prompt_file] if only_prompt_file else \
        "".join(f"# file: {p}\n{after.get(p, '')}\n" for p in changed)
    messages = _clean_messages(attempt)
    if not attempt.steps:
        reply = f"```python\n{code.rstrip()}\n```" if only_prompt_file else \
            f"```diff\n{attempt.patch.rstrip()}\n```"
        messages = [m for m in messages[:_last_assistant(messages)] if m["role"] != "assistant"]
        if not any(m["role"] == "user" for m in messages):
            raise Unusable("no-prompt", "the attempt recorded no user message")
        messages.append({"role": "assistant", "content": reply})
    else:
        messages = messages[:_last_assistant(messages) + 1]
    return Example(attempt_id=attempt.attempt_id, run_id=attempt.run_id, task_id=attempt.task_id,
                   task_set=attempt.task_set, family=str(task.metadata.get("family") or "unknown"),
                   messages=messages, steps=list(attempt.steps), code=code)


def _clean_messages(attempt: Attempt) -> list[dict]:
    out = []
    for i, m in enumerate(attempt.messages):
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise Unusable("bad-message", f"message {i} has role {role!r}; expected one of {ROLES}")
        if not isinstance(content, str):
            raise Unusable("bad-message", f"message {i} content is {type(content).__name__}, not a string")
        out.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" for m in out):
        raise Unusable("no-reply", "the attempt recorded no assistant message")
    return out


def _last_assistant(messages: list[dict]) -> int:
    return max(i for i, m in enumerate(messages) if m["role"] == "assistant")
