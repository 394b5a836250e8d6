"""Test generation: sanitizing model replies, and prompts built from the problem statement only."""

from __future__ import annotations

import json

from codeagent.models.scripted import ScriptedModel
from codeagent.tasks import load_tasks
from codeagent.verify.testgen import generate_tests, sanitize, generated_test_file
from codeagent.verify.testgen import GeneratedTests

REPLY = """Sure! Here are some tests:
```python
import math
import os
assert add(1, 2) == 3
assert add(1,2)==3
assert add(x, 2) == 3
assert 1 == 1
def test_more():
    y = add(2, 2)
    assert y == math.floor(4.5)
```
"""


def test_sanitize_keeps_asserts_as_functions_and_drops_the_rest():
    tests, imports, dropped = sanitize([REPLY, "assert add(5, 5) == 10\nprose assert\nassert add(3,\n  4) == 7\n"],
                                       "add", 10)
    assert tests == ["def test_gen_0():\n    assert add(1, 2) == 3",
                     "def test_gen_1():\n    y = add(2, 2)\n    assert y == math.floor(4.5)",
                     "def test_gen_2():\n    assert add(5, 5) == 10",
                     "def test_gen_3():\n    assert add(3, 4) == 7"]
    assert imports == ["math"]
    reasons = {d["reason"] for d in dropped}
    assert {"import of os not allowed", "duplicate", "undefined name(s): x", "does not call add"} <= reasons
    capped, _, dropped = sanitize([REPLY], "add", 1)
    assert len(capped) == 1 and any(d["reason"] == "over --n-tests 1" for d in dropped)
    module = generated_test_file(GeneratedTests("t", "m", tests, [], imports=imports), "solution", "add")
    compile(module, "test_generated.py", "exec")
    assert module.startswith("import math\nfrom solution import add\n")


class RecordingModel(ScriptedModel):
    """The real scripted model, keeping every conversation it was shown."""

    def __init__(self, path):
        super().__init__(path)
        self.seen = []

    def generate(self, conversations, params=None):
        self.seen.extend(conversations)
        return super().generate(conversations, params) if params else super().generate(conversations)


def test_prompt_holds_the_problem_statement_and_nothing_hidden(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"rules": [{"match": "def truncate_number", "reply": "assert truncate_number(2.5) == 0.5"}]}))
    model = RecordingModel(script)
    task = next(t for t in load_tasks("humaneval") if t.id == "HumanEval/2")
    [gen] = generate_tests(model, [task], samples=3)
    assert gen.tests == ["def test_gen_0():\n    assert truncate_number(2.5) == 0.5"]
    text = json.dumps(model.seen)
    assert task.problem_statement.strip() in "".join(m["content"] for m in model.seen[0])
    hidden = [line.strip() for f in task.heldout_tests.values() for line in f.splitlines() if "assert" in line]
    hidden += [task.reference_files["solution.py"][len(task.problem_statement):].strip()]
    assert hidden and not any(h in text for h in hidden)
    assert gen.prompt == model.seen[0]
