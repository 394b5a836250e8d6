"""Procedural bug strategies: small AST edits to functions with some substance.

Each strategy finds the sites inside one function where it applies and rewrites only the source
span of that site (the rest of the file keeps its text, comments and layout), so the bug's patch
is a few lines, as a human's bug would be. Which sites are used is decided by a seeded RNG:
the same source, seed and limits give the same candidates.
"""

from __future__ import annotations

import ast
import hashlib
import random
from dataclasses import dataclass
from typing import Callable, Iterator

from codeagent.codenorm import UNPARSABLE, parse, parses

MIN_STATEMENTS = 4
"""Functions with fewer statements (counting nested ones) are skipped: one-liners and property
getters make bugs whose fix is obvious from the signature (SWE-smith's lesson)."""
SKIP_FUNCTIONS = {"__repr__", "__str__", "__hash__", "__eq__", "__ne__", "__dir__"}


@dataclass(frozen=True)
class Candidate:
    """One proposed bug: `before` (the function's text) becomes `after` in `file`."""

    source: str
    file: str
    function: str
    """Qualified name inside the module (`Class.method`)."""
    strategy: str
    site: int
    """Index of the edited site among the strategy's sites in this function."""
    lineno: int
    before: str
    after: str

    @property
    def id(self) -> str:
        h = hashlib.sha256(f"{self.file}\0{self.after}".encode()).hexdigest()[:10]
        return f"{self.source}__{self.function}__{self.strategy}_{h}"

    def apply(self, files: dict[str, str]) -> dict[str, str]:
        text = files[self.file]
        if text.count(self.before) != 1:
            raise ValueError(f"{self.file}: the function {self.function} is not found exactly once; "
                             "the source changed since the bug was made")
        return {**files, self.file: text.replace(self.before, self.after, 1)}


# -- source spans ------------------------------------------------------------------------------
class _Source:
    """A module's text with AST positions (UTF-8 byte columns) turned into text offsets."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for ln in self.lines:
            self.starts.append(self.starts[-1] + len(ln))

    def offset(self, lineno: int, col_bytes: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col_bytes].decode("utf-8", "replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def line_span(self, first: int, last: int) -> tuple[int, int]:
        return self.starts[first - 1], self.starts[last]


def _indent(block: str, col: int) -> str:
    lines = block.splitlines()
    return "\n".join([lines[0]] + [" " * col + ln if ln else ln for ln in lines[1:]])


# -- strategies: each yields (start, end, replacement) edits of the module text ------------------
Edit = tuple[int, int, str]

COMPARE_FLIP = {ast.Lt: ast.GtE, ast.LtE: ast.Gt, ast.Gt: ast.LtE, ast.GtE: ast.Lt, ast.Eq: ast.NotEq,
                ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
ARITH_SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
              ast.Div: ast.Mult, ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
              ast.LShift: ast.RShift, ast.RShift: ast.LShift, ast.Pow: ast.Mult}


def _nodes(fn: ast.AST, kind) -> list:
    # Nested functions and classes are sites of their own function, not of this one.
    out, stack = [], list(ast.iter_child_nodes(fn))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(n, kind):
            out.append(n)
        stack.extend(ast.iter_child_nodes(n))
    return sorted(out, key=lambda n: (n.lineno, n.col_offset))


def flip_comparison(src: _Source, fn) -> Iterator[Edit]:
    for n in _nodes(fn, ast.Compare):
        if len(n.ops) == 1 and type(n.ops[0]) in COMPARE_FLIP:
            yield (*src.span(n), ast.unparse(ast.Compare(n.left, [COMPARE_FLIP[type(n.ops[0])]()], n.comparators)))


def flip_boolean(src: _Source, fn) -> Iterator[Edit]:
    for n in _nodes(fn, (ast.BoolOp, ast.UnaryOp)):
        if isinstance(n, ast.BoolOp):
            op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
            yield (*src.span(n), ast.unparse(ast.BoolOp(op, n.values)))
        elif isinstance(n.op, ast.Not):
            yield (*src.span(n), f"({ast.unparse(n.operand)})")


def change_arithmetic(src: _Source, fn) -> Iterator[Edit]:
    for n in _nodes(fn, (ast.BinOp, ast.AugAssign)):
        if type(n.op) not in ARITH_SWAP:
            continue
        if isinstance(n, ast.BinOp):
            yield (*src.span(n), f"({ast.unparse(ast.BinOp(n.left, ARITH_SWAP[type(n.op)](), n.right))})")
        else:
            yield (*src.span(n), ast.unparse(ast.AugAssign(n.target, ARITH_SWAP[type(n.op)](), n.value)))


def off_by_one(src: _Source, fn) -> Iterator[Edit]:
    for n in _nodes(fn, (ast.Constant, ast.Slice)):
        if isinstance(n, ast.Constant):
            if type(n.value) is int and 0 <= n.value <= 16:
                yield (*src.span(n), str(n.value + 1 if n.value in (0, 1) else n.value - 1))
        else:
            for bound in (n.lower, n.upper):
                if bound is not None and not isinstance(bound, ast.Constant):
                    yield (*src.span(bound), f"{ast.unparse(bound)} + 1")


def drop_statement(src: _Source, fn) -> Iterator[Edit]:
    for block in _blocks(fn):
        body = [s for s in block if not _is_docstring(s)]
        if len(body) < 2:
            continue  # dropping the only statement leaves an empty block
        for s in body:
            if isinstance(s, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Raise, ast.Continue,
                              ast.Break)) and s.lineno > fn.lineno:
                yield (*src.line_span(s.lineno, s.end_lineno), "")


def drop_if_branch(src: _Source, fn) -> Iterator[Edit]:
    for n in _nodes(fn, ast.If):
        if n.orelse:  # keep the `if` part, lose the else / elif chain
            yield (*src.span(n), _indent(ast.unparse(ast.If(n.test, n.body, [])), n.col_offset))
        elif _siblings_of(fn, n) >= 2:  # an `if` without else: drop it whole
            yield (*src.line_span(n.lineno, n.end_lineno), "")


def swap_if_else(src: _Source, fn) -> Iterator[Edit]:
    for n in _nodes(fn, ast.If):
        if n.orelse and not (len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If)):
            yield (*src.span(n), _indent(ast.unparse(ast.If(n.test, n.orelse, n.body)), n.col_offset))


def change_return(src: _Source, fn) -> Iterator[Edit]:
    for n in _nodes(fn, ast.Return):
        v = n.value
        if v is None or (isinstance(v, ast.Constant) and v.value is None):
            continue
        if isinstance(v, ast.Constant) and isinstance(v.value, bool):
            new = str(not v.value)
        elif isinstance(v, ast.Constant) and type(v.value) is int:
            new = str(v.value + 1)
        elif isinstance(v, ast.Compare) or (isinstance(v, ast.UnaryOp) and isinstance(v.op, ast.Not)):
            new = f"not ({ast.unparse(v)})"
        else:
            new = "None"
        yield (*src.span(v), new)


def swap_call_args(src: _Source, fn) -> Iterator[Edit]:
    for n in _nodes(fn, ast.Call):
        args = n.args
        for i in range(len(args) - 1):
            a, b = args[i], args[i + 1]
            if isinstance(a, ast.Starred) or isinstance(b, ast.Starred) or ast.dump(a) == ast.dump(b):
                continue
            start, _ = src.span(a)
            _, end = src.span(b)
            yield (start, end, f"{ast.unparse(b)}, {ast.unparse(a)}")


def _blocks(fn) -> Iterator[list]:
    yield fn.body
    for n in _nodes(fn, (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.AsyncFor, ast.AsyncWith)):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(n, name, None)
            if block:
                yield block


def _siblings_of(fn, node) -> int:
    for block in _blocks(fn):
        if any(s is node for s in block):
            return len(block)
    return 0


def _is_docstring(s) -> bool:
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)


# name -> strategy; `codeagent tasks synthesize --strategies` picks from these.
STRATEGIES: dict[str, Callable[[_Source, ast.AST], Iterator[Edit]]] = {
    "flip_comparison": flip_comparison,
    "flip_boolean": flip_boolean,
    "change_arithmetic": change_arithmetic,
    "off_by_one": off_by_one,
    "drop_statement": drop_statement,
    "drop_if_branch": drop_if_branch,
    "swap_if_else": swap_if_else,
    "change_return": change_return,
    "swap_call_args": swap_call_args,
}


# -- functions worth mutating -----------------------------------------------------------------
def functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """(qualified name, node) of module-level functions and methods of module-level classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{node.name}.{sub.name}", sub


def has_substance(fn) -> bool:
    if fn.name in SKIP_FUNCTIONS:
        return False
    stmts = [n for n in ast.walk(fn) if isinstance(n, ast.stmt) and n is not fn and not _is_docstring(n)]
    return len(stmts) >= MIN_STATEMENTS


def function_span(src: _Source, fn) -> tuple[int, int]:
    first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
    return src.line_span(first, fn.end_lineno)


@dataclass(frozen=True)
class Target:
    """A function worth breaking, where it sits in its module's text."""

    file: str
    function: str
    """Qualified name inside the module (`Class.method`)."""
    node: ast.AST
    text: str
    """The whole module."""
    start: int
    end: int
    """The function's span in `text`: whole lines, decorators included."""

    @property
    def before(self) -> str:
        return self.text[self.start:self.end]

    def candidate(self, source: str, strategy: str, site: int, after: str) -> Candidate:
        return Candidate(source, self.file, self.function, strategy, site, self.node.lineno, self.before, after)

    def module_with(self, after: str) -> str:
        """The module's text with the function's text replaced by `after`."""
        return self.text[:self.start] + after + self.text[self.end:]


def targets(files: dict[str, str]) -> Iterator[Target]:
    """The substantive functions of `files` (every strategy, procedural or self-play, draws from
    these), in path and source order."""
    for path, text, tree in python_trees(files):
        src = _Source(text)
        for qualname, fn in functions(tree):
            if has_substance(fn):
                yield Target(path, qualname, fn, text, *function_span(src, fn))


def candidates(source: str, files: dict[str, str], strategies: list[str], seed: int = 0,
               per_function: int = 2) -> list[Candidate]:
    """Every strategy's candidates over the substantive functions of `files`, at most
    `per_function` per (function, strategy), chosen by an RNG seeded per function."""
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        from codeagent.errors import unknown_name
        raise unknown_name("strategy", unknown[0], STRATEGIES)
    out: list[Candidate] = []
    sources: dict[str, _Source] = {}
    for t in targets(files):
        src = sources.setdefault(t.file, _Source(t.text))
        text, f_start, f_end = t.text, t.start, t.end
        for strategy in strategies:
            sites = list(STRATEGIES[strategy](src, t.node))
            rng = random.Random(f"{seed}:{t.file}:{t.function}:{strategy}")
            picked = sorted(rng.sample(range(len(sites)), min(per_function, len(sites))))
            for i in picked:
                start, end, new = sites[i]
                mutated = text[:start] + new + text[end:]
                after = mutated[f_start:len(mutated) - (len(text) - f_end)]
                if after == t.before or not parses(mutated):
                    continue
                out.append(t.candidate(source, strategy, i, after))
    return out



def python_trees(files: dict[str, str]) -> Iterator[tuple[str, str, ast.Module]]:
    """(path, text, parsed module) of every Python file that parses, in path order."""
    for path, text in sorted(files.items()):
        if not path.endswith(".py"):
            continue
        try:
            tree = parse(text)
        except UNPARSABLE:
            continue
        yield path, text, tree
