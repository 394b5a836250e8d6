"""One function of a repository file: found by its qualified name through the AST, replaced in place."""

from codeagent.agents.codeblocks import find_function, function_source, replace_function

import ast

FILE = '''import os


class Box:
    @property
    def size(self):
        """The size."""
        return self._size

    @size.setter
    def size(self, v):
        self._size = v

    def grow(self, k):
        """Grow by k.

        >>> Box().grow(1)
        """
        if k > 0:
            return k + 1
        return 0


def outer(y):
    def inner(z):
        return z * 2
    return inner(y)


if os.name == "nt":
    def plat():
        return "nt"
else:
    def plat():
        return "posix"
'''


def test_defs_are_found_through_classes_functions_and_compound_statements():
    tree = ast.parse(FILE)
    assert find_function(tree, "Box.grow").lineno == 14
    assert find_function(tree, "outer.inner").lineno == 25
    assert find_function(tree, "Box.size", lineno=6).lineno == 6  # the getter, by its def line
    assert find_function(tree, "Box.size").lineno == 11  # else the last: the one Python keeps
    assert find_function(tree, "plat").lineno == 34
    assert find_function(tree, "Box.nope") is None and find_function(tree, "grow") is None
    assert function_source(FILE, "Box.size", 11) == "@size.setter\ndef size(self, v):\n    self._size = v"


def test_a_method_answered_at_top_level_is_reindented_with_its_docstring_kept():
    new = replace_function(FILE, "Box.grow", "def grow(self, k):\n    if k >= 0:\n        return k + 1\n    return 0\n")
    assert new == FILE.replace("        if k > 0:", "        if k >= 0:")


def test_decorators_are_kept_unless_the_answer_brings_its_own():
    new = replace_function(FILE, "Box.size", "def size(self):\n    return self._size * 1\n", lineno=6)
    assert '    @property\n    def size(self):\n        """The size."""\n        return self._size * 1\n' in new
    assert "@size.setter\n    def size(self, v):\n        self._size = v" in new  # the other def is untouched
    own = replace_function(FILE, "Box.size", "@property\ndef size(self):\n    return 2\n", lineno=6)
    assert own.count("@property") == 1 and "        return 2\n" in own


def test_nested_def_new_imports_and_the_rest_of_the_reply():
    reply = "import re\nimport os\n\ndef helper():\n    pass\n\ndef inner(z):\n    return z * 3\n\nprint(inner(1))\n"
    new = replace_function(FILE, "outer.inner", reply)
    assert new == FILE.replace("import os\n", "import os\nimport re\n", 1).replace("z * 2", "z * 3")


def test_answers_without_the_function_give_none_and_broken_ones_fail_honestly():
    assert replace_function(FILE, "Box.grow", "def other(self):\n    return 1\n") is None
    assert replace_function(FILE, "Box.missing", "def missing(self):\n    return 1\n") is None
    broken = replace_function(FILE, "Box.grow", "def grow(self, k):\n    return (\n")
    assert "    def grow(self, k):\n        return (\n" in broken  # spliced as is; it will not import


def test_shipped_repository_tasks_round_trip_their_reference_function():
    """The reference function, cut out of the reference file and spliced into the buggy one,
    gives back the reference file byte for byte: every method task of the shipped set and every
    4th function task (all of them take ~15 s, parsing the big modules again and again)."""
    from codeagent.tasks import load_tasks
    tasks = load_tasks("pyrepos")
    sample = [t for t in tasks if "." in t.metadata["function"]]
    sample += [t for t in tasks if "." not in t.metadata["function"]][::4]
    assert len(sample) > 100
    for task in sample:
        meta = task.metadata
        reference = task.reference_files[meta["file"]]
        source = function_source(reference, meta["function"], meta["lineno"])
        assert source is not None, task.id
        assert replace_function(task.repo_files[meta["file"]], meta["function"], source, meta["lineno"]) == reference, task.id
