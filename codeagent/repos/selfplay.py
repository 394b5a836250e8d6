"""The self-play bug strategy: the model is shown one function and writes a subtle bug into it.

The functions are the procedural strategies' (`mutate.targets`: substantive ones only), picked in
an order fixed by the seed. Each reply goes through the same reading as an agent's code
(`python_code`, then `splice_function` against the original function, which also puts back a
docstring the reply dropped); comments the model added are cut (a `# bug here` would give the
answer away), the function goes back at its place and indentation, and the reply is dropped
before any sandbox when it has no code, does not define the function, does not parse, or changes
nothing but layout and comments. What is left is a `Candidate` like any procedural one, with
strategy `self_play`, and is validated by the same pipeline.

Replies are kept in a journal (`OUT/.synth/SOURCE.self_play.jsonl`, keyed by function, model and
seed), so a resumed build does not ask the model again.
"""

from __future__ import annotations

import ast
import io
import json
import random
import textwrap
import threading
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from codeagent.agents.codeblocks import defines, python_code, splice_function
from codeagent.models import Model, SamplingParams
from codeagent.codenorm import UNPARSABLE, parse, parses
from codeagent.errors import UserError

from .mutate import Candidate, Target, targets

SELF_PLAY = "self_play"
MAX_FUNCTION_CHARS = 3000
"""Longer functions are not shown: the prompt and the whole rewritten function must fit a small
model's context, and a long reply is where small models lose the thread."""

SYSTEM = ("You write realistic bugs for a debugging benchmark. You change code so that it stays valid "
          "Python and looks plausible, but behaves wrongly for some inputs.")
PROMPT = """Here is the function `{function}` from the Python library `{library}` (file `{file}`):

```python
{code}
```

Introduce one subtle bug into this function: a small change to its body that makes it wrong for some \
inputs while it still runs (for example an off-by-one, a wrong comparison, a missed case, swapped \
arguments, a wrong default). Keep its name and signature. Do not add comments that point at the bug.
Reply with the whole changed function in one ```python block and nothing else."""


@dataclass(frozen=True)
class SelfPlayConfig:
    """How the self-play strategy asks its model."""

    temperature: float = 0.7
    """Sampling temperature (0: greedy). Replies are seeded, so a build is repeatable either way."""
    max_tokens: int = 1024
    """Cap on one reply; each function also gets at most about twice its own length in tokens."""
    max_functions: int | None = None
    """Functions asked per source (None: every substantive function up to MAX_FUNCTION_CHARS)."""
    batch: int = 16
    """Functions asked per model call; the journal is written after each call. A call waits for
    its slowest reply, so a small batch leaves a server decoding one or two sequences at a time
    (measured: 7-13 tok/s with 4, BENCHMARKS.md); replies are seeded per request either way."""


@dataclass
class SelfPlayResult:
    candidates: list[Candidate] = field(default_factory=list)
    replies: dict[str, int] = field(default_factory=dict)
    """What became of the replies before validation: candidate | no-code | no-function |
    syntax-error | unchanged (and `asked`, the functions shown)."""


def prompt(library: str, target: Target) -> list[dict]:
    code = textwrap.dedent(target.before).rstrip("\n")
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": PROMPT.format(function=short_name(target), library=library,
                                                      file=target.file, code=code)}]


def short_name(target: Target) -> str:
    return target.function.rsplit(".", 1)[-1]


def bug_from_reply(source: str, target: Target, reply: str) -> Candidate | str:
    """The candidate the reply makes, or why it makes none (a reason of `SelfPlayResult.replies`)."""
    code = python_code(reply)
    name = short_name(target)
    if code is None:
        return "no-code"
    if not defines(code, name):
        return "no-function" if parses(code) else "syntax-error"
    original = textwrap.dedent(target.before)
    spliced = splice_function(original, code, name)
    node = _function_node(spliced, name)
    if node is None:
        return "syntax-error"
    lines = spliced.splitlines()
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    new = "\n".join(lines[first - 1:node.end_lineno]) + "\n"
    if not node.decorator_list and target.node.decorator_list:
        # A reply that left the decorators out still means the same function (`@property` …).
        new = _decorators(original) + new
    new = _strip_new_comments(_keep_documentation(new, original), original)
    after = textwrap.indent(new, " " * target.node.col_offset, lambda ln: bool(ln.strip()))
    try:
        module = parse(target.module_with(after))
    except UNPARSABLE:
        return "syntax-error"
    if _same_function(module, target) or after.split() == target.before.split():
        return "unchanged"
    return target.candidate(source, SELF_PLAY, 0, after)


def _docstring(fn) -> ast.Expr | None:
    return fn.body[0] if ast.get_docstring(fn, clean=False) is not None else None


def _keep_documentation(new: str, original: str) -> str:
    """`new` with the original's docstring in place of whatever the model wrote there: the bug
    belongs in the code, and the documentation stays what a fix must satisfy (small models like
    to rewrite the examples to match their bug)."""
    old_fn, new_fn = parse(original).body[0], parse(new).body[0]
    old_doc, new_doc = _docstring(old_fn), _docstring(new_fn)
    first = new_fn.body[0]
    if old_doc is None or first.lineno == new_fn.lineno:
        return new  # nothing to keep, or a one-line `def f(): ...` with no room for it
    if new_doc is not None and len(new_fn.body) > 1 and new_fn.body[1].lineno == new_doc.end_lineno:
        return new  # `"""doc"""; x = 1`: the docstring shares its line with code
    lines, old_lines = new.splitlines(keepends=True), original.splitlines(keepends=True)
    indent = lines[first.lineno - 1][:first.col_offset]
    old_indent = old_lines[old_doc.lineno - 1][:old_doc.col_offset]
    doc = [indent + ln[len(old_indent):] if ln.startswith(old_indent) else ln
           for ln in old_lines[old_doc.lineno - 1:old_doc.end_lineno]]
    end = new_doc.end_lineno if new_doc is not None else first.lineno - 1
    return "".join(lines[:first.lineno - 1] + doc + lines[end:])


def _decorators(original: str) -> str:
    node = parse(original).body[0]
    lines = original.splitlines(keepends=True)
    first = min(d.lineno for d in node.decorator_list)
    return "".join(lines[first - 1:node.lineno - 1])


def _function_node(code: str, name: str):
    try:
        tree = parse(code)
    except UNPARSABLE:
        return None
    return next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name),
                None)



def _same_function(module: ast.Module, target: Target) -> bool:
    """True when the function in `module` at the target's place has the original's AST (layout,
    comments and parentheses are not changes)."""
    node = _find(module, target.function)
    return node is not None and ast.dump(node) == ast.dump(target.node)


def _find(module: ast.Module, qualname: str):
    body = module.body
    *outer, name = qualname.split(".")
    for part in outer:
        cls = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == part), None)
        if cls is None:
            return None
        body = cls.body
    return next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name), None)


def _comments(code: str) -> list[tuple[int, int, str]]:
    try:
        return [(t.start[0], t.start[1], t.string) for t in tokenize.generate_tokens(io.StringIO(code).readline)
                if t.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError):
        return []


def _strip_new_comments(new: str, original: str) -> str:
    """`new` without the comments the original function did not have."""
    known = {text for *_, text in _comments(original)}
    lines = new.splitlines(keepends=True)
    drop: set[int] = set()
    for row, col, text in reversed(_comments(new)):
        if text in known:
            continue
        line = lines[row - 1]
        rest = line[:col].rstrip()
        if rest:
            lines[row - 1] = rest + "\n"
        else:
            drop.add(row - 1)
    return "".join(ln for i, ln in enumerate(lines) if i not in drop)


class ReplyJournal:
    """Replies already received, keyed by (function, model, seed); a torn last line is ignored."""

    def __init__(self, path: Path):
        self.path = path
        self.replies: dict[tuple[str, str, int], str] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    r = json.loads(line)
                    self.replies[(r["function"], r["model"], int(r["seed"]))] = r["reply"]
                except (ValueError, KeyError, TypeError):
                    continue
        self._lock = threading.Lock()

    def add(self, function: str, model: str, seed: int, reply: str) -> None:
        with self._lock:
            self.replies[(function, model, seed)] = reply
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(json.dumps({"function": function, "model": model, "seed": seed, "reply": reply}) + "\n")


def _key(t: Target) -> str:
    return f"{t.file}:{t.function}"


def pick_targets(files: dict[str, str], seed: int, limit: int | None) -> list[Target]:
    """The functions shown to the model: substantive, short enough, in an order fixed by `seed`."""
    pool = [t for t in targets(files) if len(t.before) <= MAX_FUNCTION_CHARS]
    random.Random(f"{seed}:{SELF_PLAY}").shuffle(pool)
    return pool[:limit] if limit else pool


def self_play_candidates(source: str, files: dict[str, str], model: Model, seed: int, journal: ReplyJournal,
                         config: SelfPlayConfig = SelfPlayConfig(), on_batch=None) -> SelfPlayResult:
    """Ask `model` for one bug in each picked function; the candidates its replies make."""
    if config.batch < 1:
        raise UserError(f"self-play batch must be at least 1, got {config.batch}")
    picked = pick_targets(files, seed, config.max_functions)
    spec = getattr(model, "spec", "model")
    todo = [t for t in picked if (_key(t), spec, seed) not in journal.replies]
    for i in range(0, len(todo), config.batch):
        batch = todo[i:i + config.batch]
        tokens = min(config.max_tokens, max(len(t.before) for t in batch) // 2 + 128)
        params = SamplingParams(n=1, temperature=config.temperature, max_tokens=tokens, seed=seed)
        outs = model.generate([prompt(source, t) for t in batch], params)
        for t, samples in zip(batch, outs):
            journal.add(_key(t), spec, seed, samples[0].text)
        if on_batch:
            on_batch(len(batch))
    result = SelfPlayResult(replies={"asked": len(picked)})
    for t in picked:
        made = bug_from_reply(source, t, journal.replies[(_key(t), spec, seed)])
        reason = made if isinstance(made, str) else "candidate"
        result.replies[reason] = result.replies.get(reason, 0) + 1
        if not isinstance(made, str):
            result.candidates.append(made)
    return result
