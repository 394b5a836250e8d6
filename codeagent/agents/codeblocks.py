"""Reading code out of model replies, and splicing a generated function into a stub file.

Replies are often cut by a stop string at the closing fence (that is how the rewrite agent keeps
a small model from looping to the token limit), so an opening fence with no closing fence is a
complete block that runs to the end of the reply.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from codeagent.codenorm import UNPARSABLE, parse, parses

# An opening fence at the start of a line: ``` or ~~~ plus an optional info string.
_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)

PYTHON_LANGS = ("python", "py", "python3", "")
SHELL_LANGS = ("bash", "sh", "shell", "console", "")


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    """The fence's info string, lower-cased ('' when bare)."""
    code: str
    closed: bool
    """False when the reply ended (or was cut) before a closing fence."""
    span: tuple[int, int] = (0, 0)
    """Where the whole block, fences included, sits in the text."""


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced block of `text`, in order; a final unclosed block runs to the end of text."""
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        m = _FENCE.search(text, pos)
        if not m:
            return blocks
        fence, lang = m.group(1), m.group(2).lower()
        body_start = m.end() + 1 if m.end() < len(text) else m.end()
        close = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.MULTILINE)
        c = close.search(text, body_start)
        if c is None:
            blocks.append(CodeBlock(lang, text[body_start:], closed=False, span=(m.start(), len(text))))
            return blocks
        blocks.append(CodeBlock(lang, text[body_start:c.start()], closed=True, span=(m.start(), c.end())))
        pos = c.end()


def python_blocks(text: str) -> list[str]:
    """The code of every python (or bare) fenced block of `text`."""
    return [b.code for b in code_blocks(text) if b.lang in PYTHON_LANGS]


def without_code_blocks(text: str) -> str:
    """`text` with every fenced block (fences included) cut out: the prose around the code."""
    out, pos = [], 0
    for b in code_blocks(text):
        out.append(text[pos:b.span[0]])
        pos = b.span[1]
    out.append(text[pos:])
    return "".join(out)


def python_code(reply: str, stub: str = "") -> str | None:
    """The code of the first python (or bare) block; else the whole reply if it is code; else None.

    A reply without fences counts as code only if it parses (alone, or as an indented body
    appended to `stub`) and is more than bare expressions: "Hello" parses too, and is not code.
    """
    for block in code_blocks(reply):
        if block.lang in PYTHON_LANGS and block.code.strip():
            return block.code
    if reply.strip() and "```" not in reply and _is_code(reply, stub):
        return reply
    return None


def _is_code(text: str, stub: str) -> bool:
    try:
        tree = parse(text)
    except UNPARSABLE:
        return bool(stub) and text[:1] in (" ", "\t") and parses(stub.rstrip("\n") + "\n" + text)
    return not all(isinstance(n, ast.Expr) for n in tree.body)



def defines(code: str, name: str) -> bool:
    """True when `code` parses and defines function/class `name` at top level."""
    try:
        tree = parse(code)
    except UNPARSABLE:
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name
               for n in tree.body)


def splice_function(stub: str, code: str, entry_point: str) -> str:
    """The new content of the stub file given the model's `code` for function `entry_point`.

    - `code` defines `entry_point` at top level: the stub is kept (its imports, helpers and
      constants) and each top-level def/class that `code` redefines is replaced in place; the
      reply's other imports, helpers and constants go just before the entry point. Top-level
      statements that only run things (`print(...)`, asserts, `if __name__ == ...`) are dropped:
      the file is imported by tests, and a demo call of a wrong function could hang them.
    - `code` is only a body (indented, as completion models write): appended to the stub.
    - anything else (unparsable, or no such function): returned as is, to fail honestly in tests.
    """
    if not defines(code, entry_point):
        if not parses(code) and parses(stub.rstrip("\n") + "\n" + code) \
                and code[:1] in (" ", "\t"):
            return stub.rstrip("\n") + "\n" + code.rstrip("\n") + "\n"
        return code
    try:
        stub_tree = parse(stub)
    except UNPARSABLE:
        return code
    reply_lines = code.splitlines()
    stub_defs = {n.name: n for n in stub_tree.body
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    stub_sources = {ast.get_source_segment(stub, n) for n in stub_tree.body}
    replaced: dict[str, str] = {}
    inserted: list[str] = []
    for node in parse(code).body:
        text = "\n".join(reply_lines[_first_line(node) - 1:node.end_lineno])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name in stub_defs:
                replaced[node.name] = _keep_docstring(stub, stub_defs[node.name], node, reply_lines) or text
            else:
                inserted.append(text)
        elif isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)):
            if ast.get_source_segment(code, node) not in stub_sources:
                inserted.append(text)
        # Expr, Assert, If, For, ...: run-time statements of a demo, dropped.

    stub_lines = stub.splitlines()
    if entry_point not in stub_defs:  # a stub without the function: the reply's parts go at the end
        return "\n".join([*stub_lines, "", "", *replaced.values(), *inserted]).strip("\n") + "\n"
    out: list[str] = []
    cursor = 0
    for node in stub_tree.body:
        name = getattr(node, "name", None)
        if name not in replaced and not (name == entry_point and inserted):
            continue
        start = _first_line(node) - 1
        out.extend(stub_lines[cursor:start])
        if name == entry_point and inserted:
            out.extend("\n".join(inserted).splitlines())
            out.extend(["", ""])
        if name in replaced:
            out.extend(replaced[name].splitlines())
            cursor = node.end_lineno
        else:
            cursor = start
    out.extend(stub_lines[cursor:])
    return "\n".join(out).rstrip("\n") + "\n"


def _keep_docstring(stub: str, old: ast.AST, new: ast.AST, reply_lines: list[str]) -> str | None:
    """`new`'s source with `old`'s docstring put back when the reply dropped it: the docstring's
    examples are the task's visible tests, and a function without them would pass them vacuously."""
    if not isinstance(old, (ast.FunctionDef, ast.AsyncFunctionDef)) or ast.get_docstring(old) is None \
            or not isinstance(new, (ast.FunctionDef, ast.AsyncFunctionDef)) or ast.get_docstring(new) is not None:
        return None
    first = new.body[0]
    if first.lineno == new.lineno:  # `def f(x): return x` on one line: nothing to insert into
        return None
    doc = old.body[0]
    stub_lines = stub.splitlines()
    old_indent = stub_lines[doc.lineno - 1][:doc.col_offset]
    new_indent = reply_lines[first.lineno - 1][:first.col_offset]
    docstring = [new_indent + line[len(old_indent):] if line.startswith(old_indent) else line
                 for line in stub_lines[doc.lineno - 1:doc.end_lineno]]
    start = _first_line(new)
    return "\n".join(reply_lines[start - 1:first.lineno - 1] + docstring
                     + reply_lines[first.lineno - 1:new.end_lineno])


def _first_line(node: ast.AST) -> int:
    """First line of a statement, decorators included."""
    decorators = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(d.lineno for d in decorators)])


# -- one function of a repository file ---------------------------------------------------------
Def = (ast.FunctionDef, ast.AsyncFunctionDef)


def find_function(tree: ast.Module, qualname: str, lineno: int | None = None) -> ast.AST | None:
    """The def named by `qualname` (`func`, `Class.method`, `outer.inner`), looked for through
    classes, functions and compound statements (a def under `if`/`try` counts). Several matches (a
    property's getter and setter, a def per platform): the one starting at `lineno`, else the last,
    which is the one Python keeps."""
    *scopes, name = qualname.split(".")
    found = [n for n in _defs_in(tree.body, scopes) if isinstance(n, Def) and n.name == name]
    if lineno is not None:
        found = [n for n in found if n.lineno == lineno] or found
    return found[-1] if found else None


def _defs_in(body: list, scopes: list[str]) -> list[ast.AST]:
    """The defs and classes directly in `body` (through compound statements), inside `scopes`."""
    direct: list[ast.AST] = []
    stack = list(reversed(body))
    while stack:
        n = stack.pop()
        if isinstance(n, (*Def, ast.ClassDef)):
            direct.append(n)
        elif isinstance(n, ast.stmt):
            stack.extend(reversed([c for c in ast.iter_child_nodes(n) if isinstance(c, ast.stmt)]))
    if not scopes:
        return direct
    return [d for n in direct if n.name == scopes[0] for d in _defs_in(n.body, scopes[1:])]


def function_source(text: str, qualname: str, lineno: int | None = None) -> str | None:
    """The source of `qualname` in `text` (decorators included), dedented; None when not found."""
    try:
        node = find_function(parse(text), qualname, lineno)
    except UNPARSABLE:
        return None
    if node is None:
        return None
    lines = text.splitlines()[_first_line(node) - 1:node.end_lineno]
    return _dedent(lines, node.col_offset)


def replace_function(text: str, qualname: str, code: str, lineno: int | None = None) -> str | None:
    """`text` with the def `qualname` replaced by the one `code` defines; None when `code` has no
    such def (or `text` has none to replace).

    `code` is the model's answer for one function, at any indentation: its def is re-indented to
    the original's column. Kept from the original: its decorators when the answer has none, its
    docstring when the answer dropped it. The answer's other defs and statements are dropped (the
    contract is one function); its imports the file lacks go after the file's last top-level import.
    An answer that does not parse but starts with the def is taken whole, to fail honestly in tests.
    """
    try:
        tree = parse(text)
    except UNPARSABLE:
        return None
    old = find_function(tree, qualname, lineno)
    if old is None:
        return None
    name = qualname.rsplit(".", 1)[-1]
    lines = text.splitlines()
    indent = lines[old.lineno - 1][:old.col_offset]
    code = _dedent_block(code)
    try:
        reply_tree = parse(code)
    except UNPARSABLE:
        reply_tree = None
    if reply_tree is None:
        body = code.strip("\n")
        if not re.match(rf"(@|(async\s+)?def\s+{re.escape(name)}\b)", body):
            return None
        new_lines, has_decorators, imports = body.splitlines(), body.startswith("@"), []
    else:
        reply_lines = code.splitlines()
        new = next((n for n in ast.walk(reply_tree) if isinstance(n, Def) and n.name == name), None)
        if new is None:
            return None
        segment = _keep_docstring(text, old, new, reply_lines) \
            or "\n".join(reply_lines[_first_line(new) - 1:new.end_lineno])
        new_lines = _dedent(segment.splitlines(), new.col_offset).splitlines()
        has_decorators = bool(new.decorator_list)
        have = set(_imports(tree, lines))
        imports = [i for i in _imports(reply_tree, reply_lines) if i not in have]
    start = (_first_line(old) if has_decorators else old.lineno) - 1
    replacement = [indent + ln if ln else "" for ln in new_lines]
    out = lines[:start] + replacement + lines[old.end_lineno:]
    if imports:
        at = max((n.end_lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))), default=0)
        if at > start:  # an import below the function: its line moved with the replacement
            at += len(replacement) - (old.end_lineno - start)
        out[at:at] = imports
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _imports(tree: ast.Module, lines: list[str]) -> list[str]:
    """The source lines of each top-level import (ast.get_source_segment is far slower on big files)."""
    return ["\n".join(lines[n.lineno - 1:n.end_lineno]) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def _dedent_block(code: str) -> str:
    """`code` with its common indentation taken off (unlike textwrap.dedent, blank lines keep
    their whitespace, so a function round-trips byte for byte)."""
    lines = code.splitlines()
    indents = [len(ln) - len(ln.lstrip()) for ln in lines if ln.strip()]
    return _dedent(lines, min(indents, default=0)) if indents else code


def _dedent(lines: list[str], col: int) -> str:
    """`lines` with the first non-blank line's `col` columns of indentation taken off every line
    that has them."""
    prefix = next((ln[:col] for ln in lines if ln.strip()), "")
    out = []
    for ln in lines:
        # A line that sits further left (blank, or inside a multi-line string) stays as it is.
        out.append(ln[len(prefix):] if ln.startswith(prefix) else ln)
    return "\n".join(out)
