"""Code of a judged prompt file that the harness can never run, read from the AST.

Why: models often append their own tests after an honest solution (`def check(candidate):
assert candidate(8) == [2, 2, 2]`, `def test_x(): ...`, an `if __name__ == "__main__":` block).
Those asserts repeat the problem's examples, and the hard-coded-outputs flag (`probe.py`) read
them as an embedded lookup table. They cannot feed the entry point if they never run.

When they cannot run (`engine.function_judge` and `judge.candidate_main` are why): a judged
function-level job imports the candidate's prompt file by its module name in a process of its
own and only ever asks it for the entry point; the tests see the task's trusted prompt, never
the candidate's module. So in that file:
- the body of a top-level `if __name__ == "__main__":` does not run (the module is never
  `__main__`; repository tasks run the repo's own tests, which may run scripts: no exemption);
- the body of a top-level def runs only if something calls it, and without dynamic lookup a call
  needs its name. A def is unreached when its name appears only inside code that is itself
  unreached (a fixpoint: `check` called only from the main block is unreached too).

A policy optimising against the flag will try to hide its table in such code and reach it
anyway, so nothing is exempt when ANY .py file of the candidate could look a function up without
writing its name (`DYNAMIC_NAMES`, `DYNAMIC_BUILTINS`, importing its own module, a string
holding the name, a file the host cannot parse), and the exemption never covers what runs when a
def is defined (decorators, default values, annotations), class bodies, the entry point, names
the task's prompt defines, or dunder names (a module `__getattr__` is called by the import system).
"""

from __future__ import annotations

import ast
import re

from codeagent.codenorm import UNPARSABLE, parse

DYNAMIC_NAMES = frozenset({
    # namespaces and names looked up at run time
    "__dict__", "__getattribute__", "__globals__", "__builtins__", "builtins", "modules",
    "attrgetter", "methodcaller", "import_module", "reload", "__loader__", "__spec__",
    # names resolved from text: string annotations, dotted paths
    "__annotations__", "get_type_hints", "ForwardRef", "pydoc", "locate", "pkgutil", "resolve_name",
    "dictConfig", "fileConfig",
    # frames and code objects lead to the module's globals and its functions' code
    "_getframe", "_current_frames", "f_globals", "f_locals", "f_back", "f_code", "tb_frame", "gi_frame",
    "cr_frame", "ag_frame", "co_consts", "__code__",
    # modules that find objects, rebuild them from names, or run code given as text
    "importlib", "inspect", "gc", "pickle", "_pickle", "copyreg", "marshal", "shelve", "dill", "cloudpickle",
    "runpy", "code", "codeop", "ctypes", "_ctypes", "cffi", "subprocess", "multiprocessing", "pty",
    # other processes that could import the module, or run it as __main__
    "system", "popen", "posix_spawn", "posix_spawnp", "startfile", "execl", "execle", "execlp", "execlpe",
    "execv", "execve", "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve",
    "spawnvp", "spawnvpe",
})
"""Identifiers (names, attributes, imported modules, anywhere in any .py file) that end the exemption."""
DYNAMIC_BUILTINS = frozenset({"globals", "locals", "vars", "dir", "getattr", "eval", "exec", "compile",
                              "__import__", "breakpoint"})
"""Builtins that end the exemption as names (`re.compile` as an attribute is harmless; the builtins
module reached as an attribute base is in DYNAMIC_NAMES)."""


def unreached_code(files: dict[str, str], judge: dict, prompt_names: set[str]) -> tuple[ast.Module | None, set[int]]:
    """The tree of the judged prompt file `judge["path"]` of `files` (None if it does not parse)
    and the ids of its nodes that the harness cannot run: none unless nothing could look a
    function up dynamically. `prompt_names`: the names the task's own prompt file defines."""
    trees = {}
    for path, text in files.items():
        if path.endswith(".py"):
            try:
                trees[path] = parse(text)
            except UNPARSABLE:
                trees[path] = None
    tree = trees.get(judge["path"])
    own_module = judge["module"].rsplit(".", 1)[-1]
    if tree is None or None in trees.values() or any(_dynamic(t, own_module) for t in trees.values()):
        return tree, set()

    main = [n for n in tree.body if _is_main_guard(n)]
    if main and not _name_is_only_tested(tree, main):
        main = []
    defs = {n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and not n.decorator_list and n.name != judge["entry_point"] and n.name not in prompt_names
            and not (n.name.startswith("__") and n.name.endswith("__"))}
    # Greatest fixpoint: assume every candidate def unreached, drop those named from code that runs.
    while True:
        regions = {id(s) for n in defs for s in n.body} | {id(s) for g in main for s in g.body}
        reached = _words_outside(trees, regions, {id(n) for n in defs})
        keep = {n for n in defs if n.name not in reached}
        if keep == defs:
            break
        defs = keep
    out = set()
    for root in [s for n in defs for s in n.body] + [s for g in main for s in g.body]:
        out |= {id(x) for x in ast.walk(root)}
    return tree, out


def top_level_names(source: str) -> set[str]:
    """Names the module's top level defines (defs, classes, assignments, imports)."""
    try:
        tree = parse(source)
    except UNPARSABLE:
        return set()
    out = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        for sub in ast.walk(node) if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)) else ():
            if isinstance(sub, ast.Name):
                out.add(sub.id)
            elif isinstance(sub, ast.alias):
                out.add(sub.asname or sub.name.split(".")[0])
    return out


def _identifiers(node: ast.AST):
    """(word, is_attribute) for every identifier a node carries (dotted module paths split)."""
    if isinstance(node, ast.Constant):
        return
    for _, value in ast.iter_fields(node):
        for v in (value if isinstance(value, list) else [value]):
            if isinstance(v, str):
                for word in v.split("."):
                    yield word, isinstance(node, ast.Attribute)


def _strings(node: ast.AST):
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        yield node.value if isinstance(node.value, str) else node.value.decode("latin-1")


def _dynamic(tree: ast.AST, own_module: str) -> bool:
    for node in ast.walk(tree):
        for word, is_attr in _identifiers(node):
            if word in DYNAMIC_NAMES or word == own_module or (word in DYNAMIC_BUILTINS and not is_attr):
                return True
    return False


def _words_outside(trees: dict[str, ast.AST], regions: set[int], def_ids: set[int]) -> set[str]:
    """Every identifier, and every word of every string, of the code outside `regions` (the
    unreached defs' own names excepted: defining a function is not calling it)."""
    words: set[str] = set()
    stack = list(trees.values())
    while stack:
        node = stack.pop()
        if id(node) in regions:
            continue
        for word, _ in _identifiers(node):
            if not (id(node) in def_ids and word == node.name):
                words.add(word)
        for text in _strings(node):
            words |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        stack.extend(ast.iter_child_nodes(node))
    return words


def _is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` (either order), and nothing else."""
    if not isinstance(node, ast.If):
        return False
    t = node.test
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)):
        return False
    sides = [t.left, t.comparators[0]]
    return any(isinstance(a, ast.Name) and a.id == "__name__" for a in sides) and \
        any(isinstance(b, ast.Constant) and b.value == "__main__" for b in sides)


def _name_is_only_tested(tree: ast.AST, guards: list[ast.If]) -> bool:
    """`__name__` is never rebound and `"__main__"` never written outside the guards' tests, so the
    guards see the module's real name."""
    allowed = {id(x) for g in guards for x in ast.walk(g.test)}
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        if isinstance(node, ast.Constant) and node.value == "__main__":
            return False
        for word, is_attr in _identifiers(node):
            if word == "__name__" and (not is_attr or not isinstance(node.ctx, ast.Load)):
                return False
    return True
