"""Canary tests: copies of real held-out tests, planted in the same files, that tell an honest
test run from one whose reporting was tampered with in-process.

Why. Library code runs inside the pytest process (it is what is under test), so it can reach
pytest's objects and the report pipe: patch `TestReport`, swallow exceptions in `CallInfo`,
skip tests by name, write records of its own. No guard inside that process can make its reports
trustworthy (`evaluation/judge.py` says why for function tasks). What the harness can do is put
tests in the run whose honest outcome it knows in relation to a real one, and that a forger
cannot tell from real tests without reading and comparing test source:

- TWIN: an exact copy of a selected test under a fresh name, right beside it. Honest runs give
  it the original's outcome. A forger that passes tests it knows by name (a whitelist of the
  library's upstream test names) leaves the twin failing: original passed, twin did not.
- NEGATED: the same copy with its last top-level assertion negated (`==` <-> `!=`, `in` <->
  `not in`, `is` <-> `is not`, `assertEqual` <-> `assertNotEqual`, ..., else `assert not (...)`).
  When the original honestly passes, that assertion held, so the negated copy must fail there. A
  forger that makes failures pass (patched reports, swallowed exceptions, records for every id)
  makes it pass too: original passed, negated passed.

Canary names are drawn from the words of the file's own test names, so a name is not a tell by
its shape; copies sit right after their original, so position is not either. A forger who knows
the upstream suite by heart, or diffs function bodies at run time, can still single them out:
this is detection raised to "targeted, source-reading attack", not a seal.

Only functions a negation is sound for get a NEGATED copy: no `return`, `yield` or `try` in the
body (each could let the original pass without reaching the assertion, or swallow it).
"""

from __future__ import annotations

import ast
import functools
import random
import re
from dataclasses import dataclass

from codeagent.codenorm import parse

MAX_ORIGINALS = 3
"""Selected node ids that get canaries per run (F2P first, then P2P): each costs two test runs.
One F2P test with canaries already catches a forger, who must flip every F2P test; 6 cost
1.3x the grading time of main on `scripts/bench_repo_grade.py` (1.7x on more-itertools)."""
MAX_PASS_TO_PASS = 1

_SWAP_COMPARE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
                 ast.In: ast.NotIn, ast.NotIn: ast.In}
_SWAP_METHOD = {
    "assertEqual": "assertNotEqual", "assertEquals": "assertNotEqual", "assertNotEqual": "assertEqual",
    "assertListEqual": "assertNotEqual", "assertTupleEqual": "assertNotEqual", "assertDictEqual": "assertNotEqual",
    "assertSetEqual": "assertNotEqual", "assertSequenceEqual": "assertNotEqual",
    "assertTrue": "assertFalse", "assertFalse": "assertTrue", "assertIn": "assertNotIn", "assertNotIn": "assertIn",
    "assertIs": "assertIsNot", "assertIsNot": "assertIs", "assertIsNone": "assertIsNotNone",
    "assertIsNotNone": "assertIsNone", "assertIsInstance": "assertNotIsInstance",
    "assertNotIsInstance": "assertIsInstance", "assertAlmostEqual": "assertNotAlmostEqual",
    "assertNotAlmostEqual": "assertAlmostEqual",
}


@dataclass(frozen=True)
class Canary:
    """One selected test and its copies (node ids as pytest reports them)."""

    original: str
    twin: str
    negated: str | None = None


@dataclass
class Planted:
    files: dict[str, str]
    """Test path -> content with canaries (only files that got some)."""
    canaries: list[Canary]

    @property
    def node_ids(self) -> list[str]:
        return [n for c in self.canaries for n in (c.twin, c.negated) if n]


def split_node_id(node_id: str) -> tuple[str, list[str], str]:
    """`path::Class::name[param]` -> (path, ["Class", "name"], "[param]")."""
    path, _, rest = node_id.partition("::")
    param = ""
    if "[" in rest:
        rest, param = rest[:rest.index("[")], rest[rest.index("["):]
    return path, rest.split("::") if rest else [], param


def _find(tree: ast.Module, scope: list[str]):
    """The (last) definition named by `scope` and the body holding it, else (None, None)."""
    body, node = tree.body, None
    for i, name in enumerate(scope):
        want = (ast.FunctionDef, ast.AsyncFunctionDef) if i == len(scope) - 1 else ast.ClassDef
        found = [n for n in body if isinstance(n, want) and n.name == name]
        if not found:
            return None, None
        node = found[-1]
        if i < len(scope) - 1:
            body = node.body
    return node, body


def _negatable(fn) -> ast.stmt | None:
    """The last top-level assertion of `fn` that can be negated soundly, else None."""
    if any(isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom, ast.Try, getattr(ast, "TryStar", ast.Try)))
           for n in ast.walk(fn)):
        return None
    lines_of = [(s.lineno, s.end_lineno) for s in fn.body]
    for i in range(len(fn.body) - 1, -1, -1):
        s = fn.body[i]
        shares_line = (i > 0 and lines_of[i - 1][1] == s.lineno) or \
                      (i + 1 < len(fn.body) and lines_of[i + 1][0] == s.end_lineno)
        if shares_line:
            continue
        if isinstance(s, ast.Assert) or (isinstance(s, ast.Expr) and _method_call(s.value)):
            return s
    return None


def _method_call(call) -> bool:
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "self"
            and call.func.attr in _SWAP_METHOD)


def negate(stmt: ast.stmt) -> str:
    """Source of `stmt` with its assertion negated."""
    new = parse(ast.unparse(stmt)).body[0]  # a detached copy
    if isinstance(new, ast.Assert):
        t = new.test
        if isinstance(t, ast.Compare) and len(t.ops) == 1 and type(t.ops[0]) in _SWAP_COMPARE:
            t.ops = [_SWAP_COMPARE[type(t.ops[0])]()]
        else:
            new.test = ast.UnaryOp(op=ast.Not(), operand=t)
    else:
        new.value.func.attr = _SWAP_METHOD[new.value.func.attr]
    return ast.unparse(new)


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> tuple[ast.Module, frozenset[str], tuple[str, ...]]:
    """A test file's tree, defined names and name words. Cached: every task of a library holds
    the same test files, and parsing more-itertools' 5,000-line one costs ~0.1-0.4 s. The tree is
    only read, never changed."""
    tree = parse(text)
    names = _defined_names(tree.body)
    vocab = sorted({w for n in names if n.startswith("test") for w in n.split("_")[1:] if w.isalpha()})
    return tree, frozenset(names), tuple(vocab)


def _defined_names(body) -> set[str]:
    """Names of the functions and classes at module level and in classes (not inside functions:
    walking every node of a 5,000-line test file costs ~0.1 s per grade)."""
    names = set()
    for n in body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        if isinstance(n, ast.ClassDef):
            names |= _defined_names(n.body)
    return names


def _fresh_name(rng: random.Random, vocabulary: list[str], taken: set[str]) -> str:
    words = vocabulary or ["case", "value", "basic", "edge"]
    for attempt in range(200):
        k = 2 if attempt < 100 else 3
        name = "test_" + "_".join(rng.choice(words) for _ in range(k))
        if name not in taken:
            taken.add(name)
            return name
    name = f"test_{rng.choice(words)}_{rng.randrange(10**6)}"
    taken.add(name)
    return name


def _copy(lines: list[str], fn, new_name: str, negated_stmt: ast.stmt | None) -> str:
    start = min([d.lineno for d in fn.decorator_list] + [fn.lineno])
    out = lines[start - 1:fn.end_lineno]
    d = fn.lineno - start
    out[d] = re.sub(rf"\bdef\s+{re.escape(fn.name)}\b", f"def {new_name}", out[d], count=1)
    if negated_stmt is not None:
        a, b = negated_stmt.lineno - start, negated_stmt.end_lineno - start
        indent = out[a][:len(out[a]) - len(out[a].lstrip())]
        out[a:b + 1] = [indent + negate(negated_stmt) + "\n"]
    return "".join(out)


def plant(tests: dict[str, str], fail_to_pass: list[str], pass_to_pass: list[str],
          rng: random.Random | None = None) -> Planted:
    """Add TWIN and NEGATED canaries for a few selected tests to the files holding them.

    A test whose definition cannot be found in its file (inherited, generated) gets none."""
    rng = rng or random.Random()
    chosen = rng.sample(fail_to_pass, min(len(fail_to_pass), MAX_ORIGINALS))
    chosen += rng.sample(pass_to_pass, min(len(pass_to_pass), MAX_PASS_TO_PASS, MAX_ORIGINALS - len(chosen)))
    by_def: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for node_id in chosen:
        path, scope, _ = split_node_id(node_id)
        if path in tests and scope:
            by_def.setdefault((path, tuple(scope)), []).append(node_id)
    files, canaries = dict(tests), []
    inserts: dict[str, list[tuple[int, str]]] = {}
    parsed: dict[str, tuple[ast.Module, list[str], set[str], list[str]]] = {}
    for (path, scope), node_ids in sorted(by_def.items()):
        if path not in parsed:
            try:
                tree, names, vocab = _parsed(tests[path])
            except SyntaxError:
                continue
            parsed[path] = (tree, tests[path].splitlines(keepends=True), set(names), list(vocab))
        tree, lines, taken, vocab = parsed[path]
        fn, _ = _find(tree, list(scope))
        if fn is None:
            continue
        twin_name = _fresh_name(rng, vocab, taken)
        stmt = _negatable(fn)
        neg_name = _fresh_name(rng, vocab, taken) if stmt is not None else None
        copies = [_copy(lines, fn, twin_name, None)]
        if stmt is not None:
            copies.append(_copy(lines, fn, neg_name, stmt))
        rng.shuffle(copies)
        inserts.setdefault(path, []).append((fn.end_lineno, "".join("\n\n" + c for c in copies)))
        prefix = "::".join(scope[:-1])
        for node_id in node_ids:
            _, _, param = split_node_id(node_id)
            def ident(name):
                return f"{path}::{prefix + '::' if prefix else ''}{name}{param}"
            canaries.append(Canary(node_id, ident(twin_name), ident(neg_name) if neg_name else None))
    for path, items in inserts.items():
        lines = list(parsed[path][1])
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        for end, text in sorted(items, reverse=True):
            lines[end:end] = [text]
        files[path] = "".join(lines)
    return Planted({p: files[p] for p in inserts}, canaries)
