"""`tools`: OpenAI tool-calling fine-tuning JSONL (`train.jsonl`).

A bash-agent trajectory becomes: the prompt, then per step an assistant message whose
`tool_calls` run the step's command through a `bash` function tool (its prose, minus the code
block, as `content`), and a `tool` message with the observation and the matching `tool_call_id`.
The example ends on the agent's last tool call. Single-turn attempts keep their plain messages.
"""

from __future__ import annotations

import json
from pathlib import Path

from codeagent.agents.codeblocks import without_code_blocks

from .base import Example
from .openai import write_jsonl

DATA_FILE = "train.jsonl"
BASH_TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a bash command in the task's repository and return its output.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string", "description": "The bash command to run."}},
            "required": ["command"],
        },
    },
}


class ToolsFormat:
    name = "tools"
    description = "OpenAI tool-calling JSONL: bash steps as tool_calls + tool messages"

    def write(self, examples: list[Example], out: Path) -> list[Path]:
        return [write_jsonl(out / DATA_FILE, ({"messages": tool_messages(ex), "tools": [BASH_TOOL]}
                                              for ex in examples))]


def tool_messages(ex: Example) -> list[dict]:
    if not ex.steps:
        return ex.messages
    first_reply = next(i for i, m in enumerate(ex.messages) if m["role"] == "assistant")
    messages = list(ex.messages[:first_reply])
    replies = [m["content"] for m in ex.messages[first_reply:] if m["role"] == "assistant"]
    for k, step in enumerate(ex.steps):
        call_id = f"call_{k}"
        thought, replies = _thought_for(step.action, replies)
        messages.append({"role": "assistant", "content": thought or None, "tool_calls": [{
            "id": call_id, "type": "function",
            "function": {"name": "bash", "arguments": json.dumps({"command": step.action})}}]})
        if k < len(ex.steps) - 1:  # the example ends on the agent's last action
            messages.append({"role": "tool", "tool_call_id": call_id, "content": step.observation})
    return messages


def _thought_for(action: str, replies: list[str]) -> tuple[str, list[str]]:
    """The prose of the first remaining reply that contains `action` (replies in between were
    format errors and are skipped), and the replies after it."""
    for i, text in enumerate(replies):
        if action.strip() and action.strip() in text:
            return without_code_blocks(text).strip(), replies[i + 1:]
    return "", replies
