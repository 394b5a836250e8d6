"""Reading code out of model replies, and splicing a generated function into a stub file.

Replies are often cut by a stop string at the closing fence (that is how the rewrite agent keeps
a small model from looping to the token limit), so an opening fence with no closing fence is a
complete block that runs to the end of the reply.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

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
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return bool(stub) and text[:1] in (" ", "\t") and _parses(stub.rstrip("\n") + "\n" + text)
    return not all(isinstance(n, ast.Expr) for n in tree.body)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def defines(code: str, name: str) -> bool:
    """True when `code` parses and defines function/class `name` at top level."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
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
        if not _parses(code) and _parses(stub.rstrip("\n") + "\n" + code) \
                and code[:1] in (" ", "\t"):
            return stub.rstrip("\n") + "\n" + code.rstrip("\n") + "\n"
        return code
    try:
        stub_tree = ast.parse(stub)
    except (SyntaxError, ValueError):
        return code
    reply_lines = code.splitlines()
    stub_defs = {n.name: n for n in stub_tree.body
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    stub_sources = {ast.get_source_segment(stub, n) for n in stub_tree.body}
    replaced: dict[str, str] = {}
    inserted: list[str] = []
    for node in ast.parse(code).body:
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
