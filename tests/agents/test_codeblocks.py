"""Extracting code from replies and splicing a generated function into a stub."""

import ast
import math
import json
from pathlib import Path

from codeagent.agents.codeblocks import code_blocks, defines, python_code, splice_function
from codeagent.agents.rewrite import RewriteConfig
from codeagent.models.stop import cut_at_stop

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scripted"

STUB = '''"""Module docstring."""
import math
from typing import List

SCALE = 2


def helper(x):
    return x * SCALE


def area(radii: List[float]) -> float:
    """Total area of circles.
    >>> round(area([1.0]), 2)
    3.14
    """
'''


def run_module(source: str) -> dict:
    namespace: dict = {}
    exec(compile(source, "solution.py", "exec"), namespace)
    return namespace


def test_blocks_closed_unclosed_and_labelled():
    text = "intro\n```bash\nls -la\n```\nthen\n~~~\ncat x\n~~~\n```python\ndef f():\n    return 1\n"
    blocks = code_blocks(text)
    assert [(b.lang, b.code, b.closed) for b in blocks] == [
        ("bash", "ls -la\n", True), ("", "cat x\n", True), ("python", "def f():\n    return 1\n", False)]
    assert code_blocks("no code here") == []


def test_python_code_prefers_blocks_then_raw_code_then_nothing():
    assert python_code("Sure:\n```python\nx = 1\n```\n```python\ny = 2\n```") == "x = 1\n"
    assert python_code("def f(a):\n    return a + 1\n") == "def f(a):\n    return a + 1\n"
    assert python_code("I cannot solve this, sorry.") is None
    assert python_code("Hello") is None and python_code("submit") is None  # parses, but is not code
    body = "    return sum(radii)\n"
    assert python_code(body) is None and python_code(body, STUB) == body  # a completion of the stub
    assert python_code("```bash\nls\n```") is None  # a shell block is not python code


def test_splice_of_a_lone_function_keeps_imports_helpers_and_constants():
    reply = "def area(radii):\n    return sum(math.pi * r ** 2 for r in radii) * helper(1) / SCALE\n"
    out = splice_function(STUB, reply, "area")
    assert out.startswith('"""Module docstring."""\nimport math\nfrom typing import List\n')
    assert "def helper(x):" in out and "SCALE = 2" in out
    assert out.count("def area(") == 1
    assert abs(run_module(out)["area"]([1.0, 2.0]) - math.pi * 5) < 1e-9


def test_splice_adds_new_imports_and_helpers_and_drops_demo_code():
    reply = ("import functools\n\ndef _square(r):\n    return r * r\n\n"
             "def area(radii):\n    return functools.reduce(lambda a, r: a + math.pi * _square(r), radii, 0.0)\n\n"
             "print(area([1.0]))\nassert area([]) == 0\nif __name__ == '__main__':\n    while True: pass\n")
    out = splice_function(STUB, reply, "area")
    ast.parse(out)
    assert "print(" not in out and "while True" not in out and "assert area" not in out
    ns = run_module(out)
    assert abs(ns["area"]([2.0]) - math.pi * 4) < 1e-9
    assert ns["helper"](3) == 6  # untouched stub helper


def test_splice_replaces_a_redefined_helper_in_place():
    reply = "def helper(x):\n    return -x\n\ndef area(radii):\n    return helper(len(radii))\n"
    ns = run_module(splice_function(STUB, reply, "area"))
    assert ns["area"]([1, 2, 3]) == -3


def test_splice_of_a_body_only_completion_appends_it_to_the_stub():
    out = splice_function(STUB, "    return sum(math.pi * r * r for r in radii)\n", "area")
    assert out.startswith(STUB.rstrip("\n"))
    assert abs(run_module(out)["area"]([1.0]) - math.pi) < 1e-9


def test_splice_of_code_without_the_function_returns_it_unchanged():
    assert splice_function(STUB, "x = 1\n", "area") == "x = 1\n"
    assert splice_function(STUB, "def area(:\n", "area") == "def area(:\n"
    assert not defines("def area(:\n", "area") and defines(STUB, "area")


def test_stop_string_on_real_smollm2_replies_keeps_the_code():
    """Replies of the real SmolLM2-135M (recorded without stop strings): cutting them at the
    rewrite agent's stop string never loses the answer block, and ends right after it."""
    recorded = json.loads((FIXTURES / "smollm2_raw_replies.json").read_text())
    assert len(recorded) >= 5
    for r in recorded:
        cut = cut_at_stop(r["text"], RewriteConfig().stop)
        code = python_code(cut)
        full = python_code(r["text"])
        if full is None or not defines(full, r["entry_point"]):
            continue
        assert code is not None and defines(code, r["entry_point"]), r["text"][:300]
        # The cut text holds exactly the first block: nothing after its closing fence.
        assert len(code_blocks(cut)) == 1


def test_splice_keeps_the_stubs_docstring_when_the_reply_drops_it():
    """The docstring's examples are the visible tests; without them doctest passes vacuously."""
    import doctest
    import types
    out = splice_function(STUB, "def area(radii):\n  return sum(math.pi * r * r for r in radii)\n", "area")
    assert '  """Total area of circles.\n  >>> round(area([1.0]), 2)' in out
    module = types.ModuleType("solution")
    exec(compile(out, "solution.py", "exec"), module.__dict__)
    assert doctest.testmod(module).attempted == 1
    mine = splice_function(STUB, 'def area(radii):\n    "Mine."\n    return 0.0\n', "area")
    assert "Mine." in mine and "Total area" not in mine
