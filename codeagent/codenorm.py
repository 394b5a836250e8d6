"""Code up to formatting: the one normaliser behind deduplication (export) and diversity (improve)."""

from __future__ import annotations

import ast
import io
import re
import tokenize


def normalized_code(code: str) -> str:
    """`KIND:TEXT` — its AST dump when it parses (kind `ast`), else its tokens without comments
    and layout (`tok`), else its text without comments and whitespace (`txt`): two solutions
    differing only in layout or comments are one. The kind keeps the three forms from colliding."""
    try:
        return "ast:" + ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        pass
    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                    tokenize.INDENT, tokenize.DEDENT)]
        return "tok:" + " ".join(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        text = re.sub(r"#[^\n]*", "", code)
        return "txt:" + re.sub(r"\s+", "", text)
