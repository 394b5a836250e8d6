"""Model output nested deeper than Python's parser allows (MemoryError / RecursionError /
SystemError from `ast.parse`, not SyntaxError) is handled like any unparsable reply by every
host-side parser: one such reply once crashed a run's attempt and could crash verification."""

from codeagent.agents.codeblocks import defines, python_code
from codeagent.codenorm import normalized_code
from codeagent.verify.hacks import code_findings
from codeagent.verify.mutation import mutants

DEEP = "def f(x):\n    return " + "-" * 200000 + "1\n"


def test_every_host_side_parser_survives_code_nested_too_deep():
    python_code(f"```python\n{DEEP}```", "")  # reading the block must not raise
    assert defines(DEEP, "f") is False
    assert code_findings(DEEP) == []
    assert normalized_code(DEEP).startswith(("tok:", "txt:"))
    assert mutants(DEEP) == []


def test_host_side_code_parses_through_the_one_lock():
    """CPython 3.11 can raise SystemError ("AST constructor recursion depth mismatch") on good code
    when two threads build ASTs at once (python/cpython#106905): it crashed 2 of 77 attempts of a
    concurrent repository run. Every host-side parse goes through `codenorm.parse`, which holds one
    lock; only the in-sandbox runner (stdlib only, one thread) calls ast.parse itself."""
    import ast
    import threading
    from pathlib import Path

    import codeagent
    from codeagent.codenorm import _PARSE_LOCK, parse

    root = Path(codeagent.__file__).parent
    direct = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "ast.parse(" in p.read_text())
    assert direct == ["codenorm.py", "evaluation/runner.py"]
    # Re-entrant (a parse reached from a collector callback while one is under way), and released.
    with _PARSE_LOCK:
        assert isinstance(parse("x = 1"), ast.Module)
    seen = []
    t = threading.Thread(target=lambda: seen.append(parse("y = 2")))
    t.start()
    t.join(5)
    assert len(seen) == 1
