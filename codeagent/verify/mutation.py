"""Mechanical mutants of a solution, to measure whether generated tests are adequate.

A test set that cannot tell the accepted solution from a slightly broken copy of it says little
when it "agrees" that the solution is right. Each mutant changes one site of the source:

- `operator`: a comparison flipped at its boundary or negated (`<` -> `<=`, `==` -> `!=`, `in` ->
  `not in`), an arithmetic operator swapped (`+` <-> `-`, `*` -> `//`), `and` <-> `or`;
- `off-by-one`: an integer literal n -> n + 1;
- `drop-branch`: an `if`'s else-branch removed, or (without one) its body replaced by `pass`;
  a `not` dropped.

Pure functions of the source text (no execution here); sites are enumerated in source order
and, above `limit`, spread evenly over the file, so the same source always gives the same mutants.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

from codeagent.codenorm import UNPARSABLE, parse

COMPARE_FLIPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                 ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
ARITHMETIC_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
                    ast.Div: ast.Mult, ast.Mod: ast.FloorDiv}
BOOL_SWAPS = {ast.And: ast.Or, ast.Or: ast.And}


@dataclass(frozen=True)
class Mutant:
    kind: str
    """operator | off-by-one | drop-branch"""
    line: int
    source: str


def _sites(tree: ast.AST) -> list[tuple[int, str, object]]:
    """(index of the node in walk order, kind, what to do) for every mutable site."""
    sites = []
    for i, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in COMPARE_FLIPS:
                    sites.append((i, "operator", ("compare", k)))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in ARITHMETIC_SWAPS:
            sites.append((i, "operator", ("binop", None)))
        elif isinstance(node, ast.BoolOp) and type(node.op) in BOOL_SWAPS:
            sites.append((i, "operator", ("boolop", None)))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append((i, "off-by-one", ("int", None)))
        elif isinstance(node, ast.If):
            sites.append((i, "drop-branch", ("if", None)))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sites.append((i, "drop-branch", ("not", None)))
    return sites


class _DropNot(ast.NodeTransformer):
    def __init__(self, target: ast.AST):
        self.target = target

    def visit_UnaryOp(self, node):
        return node.operand if node is self.target else self.generic_visit(node)


def _apply(tree: ast.AST, index: int, what: tuple) -> ast.AST:
    tree = copy.deepcopy(tree)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == index)
    action, arg = what
    if action == "compare":
        node.ops[arg] = COMPARE_FLIPS[type(node.ops[arg])]()
    elif action == "binop":
        node.op = ARITHMETIC_SWAPS[type(node.op)]()
    elif action == "boolop":
        node.op = BOOL_SWAPS[type(node.op)]()
    elif action == "int":
        node.value += 1
    elif action == "if":
        if node.orelse:
            node.orelse = []
        else:
            node.body = [ast.Pass()]
    elif action == "not":
        tree = _DropNot(node).visit(tree)
    return ast.fix_missing_locations(tree)


def mutants(source: str, limit: int = 8) -> list[Mutant]:
    """Up to `limit` single-site mutants of `source` that compile and differ from it; [] when the
    source does not parse."""
    try:
        tree = parse(source)
    except UNPARSABLE:
        return []
    sites = _sites(tree)
    if len(sites) > limit:
        step = len(sites) / limit
        sites = [sites[int(k * step)] for k in range(limit)]
    original = ast.unparse(tree)
    out = []
    for index, kind, what in sites:
        mutated = _apply(tree, index, what)
        text = ast.unparse(mutated)
        if text == original:
            continue
        try:
            compile(text, "<mutant>", "exec")
        except UNPARSABLE:
            continue
        node = next(n for i, n in enumerate(ast.walk(tree)) if i == index)
        out.append(Mutant(kind=kind, line=getattr(node, "lineno", 0), source=text + "\n"))
    return out
