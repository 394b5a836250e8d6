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
