"""Code up to formatting: the one normaliser behind deduplication (export) and diversity (improve)."""

from __future__ import annotations

import ast
import io
import re
import threading
import tokenize

UNPARSABLE = (SyntaxError, ValueError, RecursionError, SystemError, MemoryError)
"""What `ast.parse` raises on text it cannot take: besides syntax errors and NUL bytes, code nested
deeper than the parser's limit raises RecursionError (or, on CPython 3.11, SystemError "AST
constructor recursion depth mismatch"). Model output and candidate code are parsed on the host, so
every such parse catches all of them: one reply must not crash a whole run or verification."""


_PARSE_LOCK = threading.RLock()


def parse(source: str, *args, **kwargs) -> ast.AST:
    """`ast.parse` under one process-wide lock; every host-side parse goes through here. CPython
    3.11 keeps the AST constructor's recursion depth in interpreter-wide state, so two threads
    converting trees at once (a garbage collection in the middle of one lets the other run) can
    make a good file raise SystemError "AST constructor recursion depth mismatch"
    (python/cpython#106905). Seen here: 2 of 77 repository tasks crashed their attempts in one run
    with 8 concurrent attempts. Re-entrant, for a parse reached from a collector callback."""
    with _PARSE_LOCK:
        return ast.parse(source, *args, **kwargs)


def parses(code: str) -> bool:
    """Whether `code` is a Python module `ast.parse` takes."""
    try:
        parse(code)
        return True
    except UNPARSABLE:
        return False


def normalized_code(code: str) -> str:
    """`KIND:TEXT` — its AST dump when it parses (kind `ast`), else its tokens without comments
    and layout (`tok`), else its text without comments and whitespace (`txt`): two solutions
    differing only in layout or comments are one. The kind keeps the three forms from colliding."""
    try:
        return "ast:" + ast.dump(parse(code))
    except UNPARSABLE:
        pass
    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                    tokenize.INDENT, tokenize.DEDENT)]
        return "tok:" + " ".join(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        text = re.sub(r"#[^\n]*", "", code)
        return "txt:" + re.sub(r"\s+", "", text)
