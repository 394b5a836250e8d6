"""Unit tests written by a model from the problem statement alone, then sanitized.

The prompt is built from `task.problem_statement` and `task.entry_point` only: never from a
candidate, the reference solution or the held-out tests. Small models are asked for a few
`assert f(...) == ...` lines and sampled several times; whatever comes back is parsed, and kept
only as self-contained test functions (`test_gen_k`) that call the entry point and use no
undefined names. Generations are stored per task in `generated_tests.jsonl`, so a decision can be
audited and replayed without the model.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import asdict, dataclass, field

from codeagent.agents.codeblocks import python_blocks
from codeagent.models.base import Message, Model, SamplingParams

GENERATED_TEST_FILE = "test_generated.py"
# Modules a generated test may import (pure, deterministic helpers); other imports are dropped.
SAFE_IMPORTS = {"math", "string", "collections", "itertools", "functools", "fractions", "decimal", "re",
                "heapq", "bisect", "operator"}
_BUILTIN_NAMES = set(dir(builtins))

SYSTEM_PROMPT = "You write Python unit tests. Reply with assert statements only, one per line, no explanations."
FEW_SHOT_PROBLEM = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'
FEW_SHOT_REPLY = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(10, 5) == 15\nassert add(0, 0) == 0\n"


@dataclass
class GeneratedTests:
    """The sanitized tests of one task and how they were obtained (one line of generated_tests.jsonl)."""

    task_id: str
    model: str
    tests: list[str]
    """Each a self-contained `def test_gen_k(): ...` source."""
    prompt: list[dict]
    raw: list[str] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)
    """{"source", "reason"} of every candidate test that was thrown away."""
    imports: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratedTests":
        return cls(**{k: d[k] for k in ("task_id", "model", "tests", "prompt")},
                   raw=d.get("raw", []), dropped=d.get("dropped", []), imports=d.get("imports", []))


def build_prompt(problem_statement: str, entry_point: str, n_asserts: int = 5) -> list[Message]:
    """The test-writing conversation. Takes the statement and entry point only, by construction."""
    def ask(name: str, code: str) -> str:
        return (f"Write {n_asserts} assert statements that test `{name}` on different inputs, "
                f"each of the form `assert {name}(...) == ...`.\n\n```python\n{code.rstrip()}\n```")

    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": ask("add", FEW_SHOT_PROBLEM)},
        {"role": "assistant", "content": FEW_SHOT_REPLY},
        {"role": "user", "content": ask(entry_point, problem_statement)},
    ]


def generate_tests(model: Model, tasks: list, samples: int = 4, n_tests: int = 10, temperature: float = 0.8,
                   max_tokens: int = 256, seed: int | None = 0) -> list[GeneratedTests]:
    """Sample `samples` replies per task in one batched call; keep at most `n_tests` tests each."""
    prompts = [build_prompt(t.problem_statement, t.entry_point) for t in tasks]
    params = SamplingParams(n=samples, temperature=temperature, max_tokens=max_tokens, seed=seed)
    replies = model.generate(prompts, params)
    out = []
    for task, prompt, completions in zip(tasks, prompts, replies):
        raw = [c.text for c in completions]
        tests, imports, dropped = sanitize(raw, task.entry_point, n_tests)
        out.append(GeneratedTests(task_id=task.id, model=model.spec, tests=tests, prompt=prompt, raw=raw,
                                  dropped=dropped, imports=imports))
    return out


def generated_test_file(generated: GeneratedTests, module: str, entry_point: str) -> str:
    """The test file run against each candidate: every generated test as its own function."""
    head = [f"import {m}" for m in generated.imports]
    head.append(f"from {module} import {entry_point}")
    return "\n".join(head) + "\n\n\n" + "\n\n\n".join(generated.tests) + "\n"


# -- sanitizing --------------------------------------------------------------------------------
def sanitize(raw: list[str], entry_point: str, n_tests: int) -> tuple[list[str], list[str], list[dict]]:
    """(test function sources, safe imports, dropped) from raw model replies; deduped, in order."""
    kept: list[str] = []
    seen: set[str] = set()
    imports: set[str] = set()
    dropped: list[dict] = []
    for text in raw:
        for stmt, source in _statements(text):
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for name in _import_names(stmt):
                    (imports.add(name) if name in SAFE_IMPORTS else
                     dropped.append({"source": source, "reason": f"import of {name} not allowed"}))
                continue
            if isinstance(stmt, ast.Assert):
                body = [stmt]
            elif isinstance(stmt, ast.FunctionDef) and stmt.name.startswith("test"):
                body = stmt.body
            else:
                continue  # prose turned code, helper definitions, prints: not tests
            fn = ast.FunctionDef(name="test_gen", args=ast.arguments([], [], None, [], [], None, []),
                                 body=body, decorator_list=[], returns=None, type_params=[])
            why = _reject(fn, entry_point, imports)
            if why:
                dropped.append({"source": source, "reason": why})
                continue
            key = ast.dump(ast.Module(body=body, type_ignores=[]))
            if key in seen:
                dropped.append({"source": source, "reason": "duplicate"})
                continue
            seen.add(key)
            kept.append(fn)
    # Import exactly the safe modules the kept tests use (a model often forgets its imports).
    used = {n.id for fn in kept[:n_tests] for n in ast.walk(fn) if isinstance(n, ast.Name)}
    imports = used & SAFE_IMPORTS
    tests = []
    for k, fn in enumerate(kept[:n_tests]):
        fn.name = f"test_gen_{k}"
        tests.append(ast.unparse(ast.fix_missing_locations(ast.Module(body=[fn], type_ignores=[]))))
    for fn in kept[n_tests:]:
        dropped.append({"source": ast.unparse(ast.fix_missing_locations(fn)), "reason": f"over --n-tests {n_tests}"})
    return tests, sorted(imports), dropped


def _statements(text: str):
    """(statement, source) pairs of the code in a reply: fenced blocks if any, else the whole
    reply; a block that does not parse is read line by line (joining continuation lines)."""
    blocks = python_blocks(text) or [text]
    for block in blocks:
        try:
            tree = ast.parse(block)
            for stmt in tree.body:
                yield stmt, ast.get_source_segment(block, stmt) or ast.unparse(stmt)
            continue
        except (SyntaxError, ValueError):
            pass
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            if not line.startswith(("assert", "import", "from")):
                i += 1
                continue
            for j in range(i + 1, min(i + 6, len(lines) + 1)):
                chunk = "\n".join(x.strip() for x in lines[i:j])
                try:
                    tree = ast.parse(chunk)
                except (SyntaxError, ValueError):
                    continue
                for stmt in tree.body:
                    yield stmt, chunk
                i = j - 1
                break
            i += 1


def _import_names(stmt) -> list[str]:
    if isinstance(stmt, ast.Import):
        return [a.name.split(".")[0] for a in stmt.names]
    return [(stmt.module or "").split(".")[0]]


def _reject(fn: ast.FunctionDef, entry_point: str, imports: set[str]) -> str | None:
    """Why a candidate test is unusable, or None."""
    names_loaded, names_bound = set(), {entry_point, *imports, *SAFE_IMPORTS}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            (names_bound if isinstance(node.ctx, (ast.Store, ast.Del)) else names_loaded).add(node.id)
        elif isinstance(node, ast.arg):
            names_bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ClassDef,
                               ast.AsyncFunctionDef, ast.Yield, ast.YieldFrom, ast.Await)):
            return f"{type(node).__name__} not allowed in a generated test"
    undefined = sorted(names_loaded - names_bound - _BUILTIN_NAMES)
    if undefined:
        return f"undefined name(s): {', '.join(undefined)}"
    if entry_point not in names_loaded:
        return f"does not call {entry_point}"
    if not any(isinstance(n, ast.Assert) for n in ast.walk(fn)):
        return "no assert"
    try:
        compile(ast.fix_missing_locations(ast.Module(body=[fn], type_ignores=[])), "<generated>", "exec")
    except (SyntaxError, ValueError) as e:
        return f"does not compile: {e}"
    return None
