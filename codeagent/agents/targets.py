"""What the `rewrite` agent asks the model to write, and how the answer becomes a file.

Three kinds of target, one shape (`Target`):
- a function-level task's stub: the answer is the function, spliced into the stub file;
- a repository task whose metadata localizes the bug (`file`, `function`, as the repository sets
  record them): the model sees the function (and, at the levels `file_levels` names, its whole
  file), answers with the fixed function, which replaces the old one in place (methods and nested
  defs included, found by the AST);
- any other task with one file to change: the answer is the whole new file.

The prompt is built from the problem statement and the repository files only: held-out tests are
not a field this module reads.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from codeagent.errors import UserError
from codeagent.tasks.base import Task
from codeagent.codenorm import UNPARSABLE, parse

from . import prompts
from .codeblocks import function_source, replace_function, splice_function


class RewriteTaskError(UserError):
    """A task the rewrite agent cannot work on (no single file to rewrite)."""


@dataclass(frozen=True)
class Target:
    kind: str
    """`stub`, `function` (a localized function of a repository) or `file`."""
    path: str
    """The file the answer changes."""
    name: str
    """What the model is asked for (a function name or the path), as the prompts say it."""
    original: str
    """The file's content before the answer."""
    prompt: str
    """The first user message."""
    qualname: str | None = None
    lineno: int | None = None

    @property
    def context(self) -> str:
        """Code an indented answer body may continue (stub tasks only)."""
        return self.original if self.kind == "stub" else ""

    def splice(self, code: str) -> str | None:
        """The file after the model's `code`; None when the answer holds no usable definition."""
        if self.kind == "stub":
            return splice_function(self.original, code, self.name)
        if self.kind == "function":
            return replace_function(self.original, self.qualname, code, self.lineno)
        return code


def target_for(task: Task, file_levels=(1,), max_file_chars: int = 3000) -> Target:
    """The rewrite target of `task` (RewriteTaskError when it has none)."""
    path = target_file(task)
    original = task.repo_files[path]
    if task.entry_point:
        return Target("stub", path, task.entry_point, original, stub_prompt(task, path))
    qualname = task.metadata.get("function")
    if qualname and path == task.metadata.get("file"):
        lineno = task.metadata.get("lineno")
        source = function_source(original, qualname, lineno)
        if source is None:
            raise RewriteTaskError(f"task {task.id}: metadata.function {qualname!r} is not a def in {path}; "
                                   "fix the task set's record")
        level = task.metadata.get("level")
        show_file = str(level) in {str(x) for x in file_levels}
        return Target("function", path, qualname.rsplit(".", 1)[-1], original,
                      function_prompt(task, path, qualname, source, max_file_chars if show_file else 0),
                      qualname=qualname, lineno=lineno)
    return Target("file", path, path, original, prompts.REWRITE_FILE.format(
        problem=task.problem_statement.strip(), path=path, content=original.rstrip("\n")))


def target_file(task: Task) -> str:
    """The one file the rewrite agent changes: the stub of a function-level task, else the task's
    `metadata["file"]` (repository tasks localized to a function) or `metadata["edit_file"]`,
    else the repo's only non-test python file."""
    path = task.prompt_file or (task.metadata.get("file") if task.metadata.get("function") else None) \
        or task.metadata.get("edit_file")
    if path is None:
        candidates = [p for p in task.repo_files if p.endswith(".py") and p not in task.protected_paths
                      and not p.rsplit("/", 1)[-1].startswith("test")]
        if len(candidates) == 1:
            path = candidates[0]
    if path is None or path not in task.repo_files:
        raise RewriteTaskError(f"task {task.id}: the rewrite agent needs one file to rewrite (prompt_file, "
                               "metadata.file with metadata.function, or metadata.edit_file naming a repo file); "
                               "use --agent bash for repository tasks without them")
    return path


def stub_prompt(task: Task, path: str) -> str:
    stub = task.repo_files[path].rstrip("\n")
    text = prompts.REWRITE_FUNCTION.format(entry_point=task.entry_point, path=path, stub=stub)
    problem = task.problem_statement.strip()
    # Function-level task sets use the stub as the statement; say it once.
    return text if problem in stub else f"{problem}\n\n{text}"


def function_prompt(task: Task, path: str, qualname: str, source: str, file_chars: int) -> str:
    """file_chars: 0, or show the file (or, when longer, its outline) in up to this many characters."""
    context = ""
    if file_chars:
        text = task.repo_files[path]
        if len(text) <= file_chars:
            context = prompts.REWRITE_CONTEXT_FILE.format(path=path, content=text.rstrip("\n"))
        else:
            context = prompts.REWRITE_CONTEXT_OUTLINE.format(path=path, content=outline(text, file_chars))
    return prompts.REWRITE_REPO_FUNCTION.format(problem=task.problem_statement.strip(), context=context,
                                                qualname=qualname, path=path, source=source.rstrip("\n"),
                                                name=qualname.rsplit(".", 1)[-1])


def outline(text: str, max_chars: int) -> str:
    """The imports and the def/class lines (bodies left out) of a module, cut at `max_chars`."""
    try:
        tree = parse(text)
    except UNPARSABLE:
        return text[:max_chars]
    lines = text.splitlines()
    out: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(ast.get_source_segment(text, node) or "")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append(lines[node.lineno - 1] + (" ..." if not isinstance(node, ast.ClassDef) else ""))
            if isinstance(node, ast.ClassDef):
                out += [lines[n.lineno - 1] + " ..." for n in node.body
                        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    kept, size = [], 0
    for line in out:
        if size + len(line) + 1 > max_chars:
            kept.append("# ... (cut)")
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)
