"""`scripted:FILE`: a deterministic model that replies from a file, for agent-loop tests.

FILE is JSON or JSONL in one of two shapes:

1. A list of replies, consumed in order across all calls (JSON: a list; JSONL: one reply per
   line). Simple, but the order depends on thread scheduling: use it single-threaded.

2. Rules, matched against the conversation (JSON: `{"rules": [...]}`, optionally with
   `"replies": [...]` as the in-order fallback and `"delay_s"`; JSONL: one rule per line):

       {"match": "def add(", "replies": ["turn 0 reply", "turn 1 reply", ...]}

   A rule applies when `match` is a substring of any user message (`match_last`: of the last
   user message only); the first applying rule in file order wins. The reply for a turn is
   `replies[k]` where k is the number of assistant messages already in the conversation, so a
   whole multi-turn conversation per task is scripted statelessly: the same conversation always
   gets the same reply, whatever the threads and wherever a resumed run picks up.
   `"reply": "..."` is shorthand for the same reply at every turn.

A reply is a string or an object `{"text": ..., "finish_reason": "length", "delay_s": 0.1}`;
`{"error": "message"}` raises ModelError (to test a failing server). Stop strings and
`max_tokens` (whitespace tokens) are applied like a real backend. Tokens are whitespace words.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Sequence

from .base import Completion, Message, ModelError, SamplingParams
from .stop import cut_at_stop


class ScriptedModel:
    """Replies from a file (see module docstring). Thread-safe."""

    def __init__(self, path: str | Path, *, spec: str | None = None, delay_s: float | None = None):
        """path: the script file. delay_s: seconds each reply takes (overrides the file's)."""
        self.path = Path(path)
        self.spec = spec or f"scripted:{path}"
        self._queue, self._rules, file_delay = _read_script(self.path)
        self.delay_s = file_delay if delay_s is None else float(delay_s)
        self._next = 0
        self._lock = threading.Lock()
        self.calls = 0
        """Conversations answered so far (tests use it to see that a resume skipped work)."""

    def generate(self, conversations: Sequence[Sequence[Message]],
                 params: SamplingParams = SamplingParams()) -> list[list[Completion]]:
        out = []
        for conversation in conversations:
            prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in conversation)
            samples = [self._completion(self._reply(conversation), prompt_tokens, params)
                       for _ in range(params.n)]
            with self._lock:
                self.calls += 1
            out.append(samples)
        return out

    def close(self) -> None:
        pass

    def _reply(self, conversation: Sequence[Message]):
        users = [str(m.get("content", "")) for m in conversation if m.get("role") == "user"]
        turn = sum(1 for m in conversation if m.get("role") == "assistant")
        for i, rule in enumerate(self._rules):
            if "match_last" in rule:
                hit = bool(users) and rule["match_last"] in users[-1]
            else:
                hit = any(rule["match"] in u for u in users)
            if not hit:
                continue
            if "reply" in rule:
                return rule["reply"]
            if turn >= len(rule["replies"]):
                raise ModelError(f"{self.path}: rule #{i + 1} (match {rule.get('match', rule.get('match_last'))!r}) "
                                 f"has {len(rule['replies'])} replies but turn {turn + 1} was asked for; "
                                 "add replies to the script")
            return rule["replies"][turn]
        with self._lock:
            if self._next < len(self._queue):
                self._next += 1
                return self._queue[self._next - 1]
        last = users[-1][:80] if users else ""
        if self._rules:
            raise ModelError(f"{self.path}: no rule matches the conversation (last user message starts "
                             f"{last!r}) and the in-order replies are used up; add a rule or replies")
        raise ModelError(f"{self.path}: ran out of replies after {len(self._queue)}; add more to the script")

    def _completion(self, reply, prompt_tokens: int, params: SamplingParams) -> Completion:
        if isinstance(reply, str):
            reply = {"text": reply}
        delay = reply.get("delay_s", self.delay_s)
        if delay:
            time.sleep(delay)
        if "error" in reply:
            raise ModelError(str(reply["error"]))
        text = cut_at_stop(str(reply.get("text", "")), params.stop)
        finish = reply.get("finish_reason", "stop")
        words = text.split()
        if len(words) > params.max_tokens:
            text = _first_words(text, params.max_tokens)
            words, finish = words[:params.max_tokens], "length"
        return Completion(text=text, prompt_tokens=prompt_tokens, completion_tokens=len(words),
                          finish_reason=finish)


def _first_words(text: str, n: int) -> str:
    """`text` up to the end of its n-th whitespace-separated word (spacing kept)."""
    count, inside = 0, False
    for i, ch in enumerate(text):
        if ch.isspace():
            if inside:
                count += 1
                if count == n:
                    return text[:i]
            inside = False
        else:
            inside = True
    return text


def _read_script(path: Path) -> tuple[list, list[dict], float]:
    if not path.is_file():
        raise ModelError(f"scripted model file not found: {path} (a JSON/JSONL file of replies)")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        items = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((lineno, json.loads(line)))
            except ValueError as e:
                raise ModelError(f"{path}:{lineno}: not valid JSON ({e})") from None
        queue = [item for _, item in items if not _is_rule(item)]
        rules = [_check_rule(path, f"line {lineno}", item) for lineno, item in items if _is_rule(item)]
        return [_check_reply(path, "a line", r) for r in queue], rules, 0.0
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ModelError(f"{path}: not valid JSON ({e})") from None
    if isinstance(data, list):
        return [_check_reply(path, f"item {i + 1}", r) for i, r in enumerate(data)], [], 0.0
    if isinstance(data, dict) and ("rules" in data or "replies" in data):
        unknown = set(data) - {"rules", "replies", "delay_s"}
        if unknown:
            raise ModelError(f"{path}: unknown top-level field(s) {sorted(unknown)}; known: rules, replies, delay_s")
        rules = [_check_rule(path, f"rule #{i + 1}", r) for i, r in enumerate(data.get("rules", []))]
        queue = [_check_reply(path, f"replies item {i + 1}", r) for i, r in enumerate(data.get("replies", []))]
        return queue, rules, float(data.get("delay_s", 0.0))
    raise ModelError(f"{path}: expected a list of replies or an object with 'rules' and/or 'replies'")


def _is_rule(item) -> bool:
    return isinstance(item, dict) and ("match" in item or "match_last" in item)


def _check_rule(path: Path, where: str, rule) -> dict:
    if not _is_rule(rule):
        raise ModelError(f"{path}: {where}: a rule needs 'match' or 'match_last' (a substring of the user messages)")
    if ("reply" in rule) == ("replies" in rule):
        raise ModelError(f"{path}: {where}: a rule needs exactly one of 'reply' or 'replies'")
    if "replies" in rule:
        if not isinstance(rule["replies"], list):
            raise ModelError(f"{path}: {where}: 'replies' must be a list (one reply per turn)")
        for r in rule["replies"]:
            _check_reply(path, where, r)
    else:
        _check_reply(path, where, rule["reply"])
    return rule


def _check_reply(path: Path, where: str, reply):
    if isinstance(reply, str) or (isinstance(reply, dict) and ("text" in reply or "error" in reply)):
        return reply
    raise ModelError(f"{path}: {where}: a reply is a string or an object with 'text' or 'error', got {reply!r:.80}")
