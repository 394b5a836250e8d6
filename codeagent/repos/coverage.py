"""Which tests can see a function: a static, name-based map used to pick the tests a candidate
bug is validated against (running the whole suite per candidate would cost ~7 s for
more-itertools; the tests that name the function or one of its callers take well under one).

A test "sees" a name when its function (or its whole TestCase class) mentions it as a name or
an attribute. A function's names are its own (the class's for dunder methods) plus those of the
library functions that call it, two levels up, so private helpers are reached through their
public callers.
"""

from __future__ import annotations

import ast

from .mutate import python_trees

CALLER_DEPTH = 2


def _names(node: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
    return out


def names_in_tests(test_files: dict[str, str]) -> dict[tuple[str, str], set[str]]:
    """(test file, top-level test function or class) -> names it mentions."""
    out: dict[tuple[str, str], set[str]] = {}
    for path, _, tree in python_trees(test_files):
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out[(path, node.name)] = _names(node)
    return out


def node_key(node_id: str) -> tuple[str, str]:
    """`tests/t.py::Cls::test_x[1]` -> (`tests/t.py`, `Cls`)."""
    path, _, rest = node_id.partition("::")
    return path, rest.split("::", 1)[0].split("[", 1)[0]


def callers(code_files: dict[str, str]) -> dict[str, set[str]]:
    """name -> names of the library's functions/methods whose body mentions it."""
    out: dict[str, set[str]] = {}
    for _, _, tree in python_trees(code_files):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for name in _names(node) - {node.name}:
                    out.setdefault(name, set()).add(node.name)
    return out


def function_names(qualname: str) -> set[str]:
    cls, _, meth = qualname.rpartition(".")
    if not cls:
        return {meth}
    return {cls} if meth.startswith("__") else {meth, cls} if meth.startswith("_") else {meth}


def related_names(qualname: str, calls: dict[str, set[str]]) -> set[str]:
    names = function_names(qualname)
    frontier = set(names)
    for _ in range(CALLER_DEPTH):
        frontier = set().union(*(calls.get(n, set()) for n in frontier)) - names
        names |= frontier
    return names


def tests_seeing(qualname: str, node_ids: list[str], tests: dict[tuple[str, str], set[str]],
                 calls: dict[str, set[str]]) -> list[str]:
    names = related_names(qualname, calls)
    return [n for n in node_ids if tests.get(node_key(n), set()) & names]
