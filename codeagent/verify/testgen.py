"""Unit tests written by a model from the problem statement alone, then sanitized.

Function-level tasks: the prompt is built from `task.problem_statement` and `task.entry_point`
only. Repository tasks localized to a function (metadata `file`, `function`): from the problem
statement and that function's source in the task's repo, with the import line of its module
(`repo_target`). Never from a candidate, the reference solution or the held-out tests. Small
models are asked for a few `assert f(...) == ...` lines (repository tasks: pytest test functions
with plain asserts) and sampled several times; whatever comes back is parsed, and kept only as
self-contained test functions (`test_gen_k`) that call the target and use no undefined names.
Repository tests run in plain pytest, without the function-level harness's audit guard, so they
are sanitized harder (`guarded=False`): no builtins that reach files, processes or the
interpreter, no private dunder attributes, bounded size. Generations are stored per task in
`generated_tests.jsonl`, so a decision can be audited and replayed without the model.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import asdict, dataclass, field

from codeagent.agents.codeblocks import find_function, function_source, python_blocks
from codeagent.models.base import Message, Model, SamplingParams
from codeagent.codenorm import UNPARSABLE, parse

GENERATED_TEST_FILE = "test_generated.py"
# Modules a generated test may import (pure, deterministic helpers); other imports are dropped.
SAFE_IMPORTS = {"math", "string", "collections", "itertools", "functools", "fractions", "decimal", "re",
                "heapq", "bisect", "operator"}
_BUILTIN_NAMES = set(dir(builtins))

SYSTEM_PROMPT = "You write Python unit tests. Reply with assert statements only, one per line, no explanations."
FEW_SHOT_PROBLEM = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'
FEW_SHOT_REPLY = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\nassert add(10, 5) == 15\nassert add(0, 0) == 0\n"

# Repository tasks: tests of one function of a library, imported from its module.
REPO_SYSTEM_PROMPT = ("You write pytest unit tests for a Python library. Reply with one Python code block of test "
                      "functions that use plain assert statements, no explanations.")
REPO_FEW_SHOT = {
    "problem": "There is a bug in the `textkit` repository: `snake_case` in `textkit/case.py` does not behave "
               "as documented, and a test that exercises it fails.",
    "module": "textkit.case", "name": "snake_case", "qualname": "snake_case",
    "source": 'def snake_case(word):\n    """`HelloWorld` -> `hello_world`."""\n'
              '    return re.sub(r"(?<!^)([A-Z])", r"_\\1", word).lower()\n',
}
REPO_FEW_SHOT_REPLY = ("```python\nfrom textkit.case import snake_case\n\n\ndef test_two_words():\n"
                       "    assert snake_case(\"HelloWorld\") == \"hello_world\"\n\n\ndef test_one_word():\n"
                       "    assert snake_case(\"Hello\") == \"hello\"\n\n\ndef test_already_lower():\n"
                       "    assert snake_case(\"hello\") == \"hello\"\n```\n")
# Builtins a repository test may not use: they reach files, processes or the interpreter itself,
# and nothing in the sandboxed pytest run stops them (function-level tests run under an audit guard).
UNSAFE_BUILTINS = {"open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "input",
                   "breakpoint", "exit", "quit", "help", "memoryview", "setattr", "delattr", "getattr"}
PUBLIC_DUNDERS = {"__name__", "__qualname__", "__doc__", "__module__", "__wrapped__", "__len__", "__iter__",
                  "__next__", "__contains__", "__getitem__", "__call__", "__signature__"}
"""Dunder attributes a repository test may read: what a library documents about its callables."""
MAX_TEST_CHARS = 2000
"""Longest kept repository test (source characters): a test is a few asserts, not a program."""
PARSE_ERRORS = UNPARSABLE


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


def build_repo_prompt(problem_statement: str, module: str, name: str, qualname: str, source: str,
                      n_tests: int = 5) -> list[Message]:
    """The test-writing conversation of a repository task: the statement and the localized
    function's source, by construction (the caller passes nothing else)."""
    def ask(problem: str, module: str, name: str, qualname: str, source: str) -> str:
        return (f"{problem.strip()}\n\nThe code under test is `{qualname}` in module `{module}`:\n\n"
                f"```python\n{source.rstrip()}\n```\n\nWrite {n_tests} pytest test functions (`def test_...():` "
                f"with plain `assert` statements) that check how `{qualname}` should behave, as its documentation "
                f"and the report above say. Import it with `from {module} import {name}`. Use no files, no network "
                "and no other modules.")

    return [
        {"role": "system", "content": REPO_SYSTEM_PROMPT},
        {"role": "user", "content": ask(**REPO_FEW_SHOT)},
        {"role": "assistant", "content": REPO_FEW_SHOT_REPLY},
        {"role": "user", "content": ask(problem_statement, module, name, qualname, source)},
    ]


@dataclass(frozen=True)
class RepoTarget:
    """The function a repository task is localized to, as a generated test reaches it."""

    module: str
    """Import path of the file (`toolz/functoolz.py` -> `toolz.functoolz`, a package's
    `__init__.py` -> the package)."""
    name: str
    """The top-level name imported from it: the function, or the class of a method."""
    qualname: str
    source: str
    """The function's source in the task's repo (the bug included: what the agent sees too)."""


def repo_target(task) -> RepoTarget | None:
    """The localized function of a repository task, or None when the task names none that a test
    can import (no `file`/`function` metadata, not a .py file, not found by the AST)."""
    path, qualname = task.metadata.get("file"), task.metadata.get("function")
    if not task.is_repository_task or not path or not qualname or not path.endswith(".py") \
            or path not in task.repo_files:
        return None
    text = task.repo_files[path]
    source = function_source(text, qualname, task.metadata.get("lineno"))
    name = qualname.split(".", 1)[0]
    try:
        top = find_function(parse(text), name) or next(
            (n for n in parse(text).body if isinstance(n, ast.ClassDef) and n.name == name), None)
    except UNPARSABLE:
        return None
    if source is None or top is None:
        return None
    module = path[:-3].replace("/", ".").removesuffix(".__init__")
    return RepoTarget(module=module, name=name, qualname=qualname, source=source)


def target_of(task) -> tuple[str, str] | None:
    """(module, name) a generated test file imports for `task`, or None when no test can reach it."""
    if task.entry_point and (task.prompt_file or "").endswith(".py"):
        return task.prompt_file[:-3].replace("/", "."), task.entry_point
    target = repo_target(task)
    return (target.module, target.name) if target else None


def _request(task) -> tuple[list[Message], str, str | None]:
    """(prompt, the name tests must call, the module a reply may import it from)."""
    if task.entry_point:
        return build_prompt(task.problem_statement, task.entry_point), task.entry_point, None
    t = repo_target(task)
    if t is None:
        raise ValueError(f"task {task.id}: no entry point and no localized function to write tests for")
    return build_repo_prompt(task.problem_statement, t.module, t.name, t.qualname, t.source), t.name, t.module


def generate_tests(model: Model, tasks: list, samples: int = 4, n_tests: int = 10, temperature: float = 0.8,
                   max_tokens: int = 256, seed: int | None = 0) -> list[GeneratedTests]:
    """Sample `samples` replies per task in one batched call; keep at most `n_tests` tests each.
    Every task must have a target (`target_of`)."""
    requests = [_request(t) for t in tasks]
    params = SamplingParams(n=samples, temperature=temperature, max_tokens=max_tokens, seed=seed)
    replies = model.generate([prompt for prompt, _, _ in requests], params)
    out = []
    for task, (prompt, name, module), completions in zip(tasks, requests, replies):
        raw = [c.text for c in completions]
        tests, imports, dropped = sanitize(raw, name, n_tests, own_module=module, guarded=module is None)
        out.append(GeneratedTests(task_id=task.id, model=model.spec, tests=tests, prompt=prompt, raw=raw,
                                  dropped=dropped, imports=imports))
    return out


def generated_test_file(generated: GeneratedTests, module: str, entry_point: str) -> str:
    """The test file run against each candidate: every generated test as its own function."""
    head = [f"import {m}" for m in generated.imports]
    head.append(f"from {module} import {entry_point}")
    return "\n".join(head) + "\n\n\n" + "\n\n\n".join(generated.tests) + "\n"


# -- sanitizing --------------------------------------------------------------------------------
def sanitize(raw: list[str], entry_point: str, n_tests: int, own_module: str | None = None,
             guarded: bool = True) -> tuple[list[str], list[str], list[dict]]:
    """(test function sources, safe imports, dropped) from raw model replies; deduped, in order.

    own_module: the module `entry_point` comes from (repository tasks); a reply's import of it is
    fine (the test file imports it anyway). guarded=False: the tests will run without the
    harness's audit guard, so `_unguarded_reject` applies too."""
    kept: list[str] = []
    seen: set[str] = set()
    imports: set[str] = set()
    dropped: list[dict] = []
    for text in raw:
        for stmt, source in _statements(text):
            if isinstance(stmt, ast.ImportFrom) and own_module and stmt.module == own_module \
                    and [a.name for a in stmt.names] == [entry_point] and not stmt.names[0].asname:
                continue
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
            why = _reject(fn, entry_point, imports) or (None if guarded else _unguarded_reject(fn))
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
            tree = parse(block)
            for stmt in tree.body:
                yield stmt, ast.get_source_segment(block, stmt) or ast.unparse(stmt)
            continue
        except PARSE_ERRORS:
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
                    tree = parse(chunk)
                except PARSE_ERRORS:
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
    except PARSE_ERRORS as e:
        return f"does not compile: {e}"
    return None


def _unguarded_reject(fn: ast.FunctionDef) -> str | None:
    """Why a test may not run without the audit guard (repository tests), or None."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and node.id in UNSAFE_BUILTINS:
            return f"{node.id} not allowed in a repository test"
        if isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr not in PUBLIC_DUNDERS:
            return f"attribute {node.attr} not allowed in a repository test"
    size = len(ast.unparse(fn))
    if size > MAX_TEST_CHARS:
        return f"longer than {MAX_TEST_CHARS} characters ({size})"
    return None
