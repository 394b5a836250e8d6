"""Prompt templates of the agents. Plain `str.format` templates: what the model sees is readable
here in one place, and every attempt records the rendered messages anyway."""

from __future__ import annotations

# --- rewrite ------------------------------------------------------------------------------------

REWRITE_SYSTEM = "You are an expert Python programmer. You write correct, complete, efficient code."

# For function-level tasks. The stub is shown in a python block and the reply is asked to be
# one python block; the agent stops generation at the closing fence (see RewriteConfig.stop).
REWRITE_FUNCTION = """Complete the function `{entry_point}` in the file `{path}`:

```python
{stub}
```

Reply with the complete implementation of `{entry_point}` in a single ```python code block. \
Do not include tests, examples or explanations."""

# For repository tasks: the files to change are shown whole and come back whole.
REWRITE_FILE = """{problem}

The file `{path}` currently contains:

```python
{content}
```

Reply with the complete new content of `{path}` in a single ```python code block. \
Do not include explanations."""

# For repository tasks localized to one function (task metadata `file` and `function`): the
# function is shown (and, at some levels, its file first) and comes back alone. Its docstring may
# be left out (the agent keeps the old one): fewer tokens to echo for a small model.
REWRITE_REPO_FUNCTION = """{problem}

{context}This is `{qualname}` in `{path}`:

```python
{source}
```

Reply with the fixed `{name}`: its complete definition, from its `def` line, in a single \
```python code block. You may leave out its docstring (it is kept). Do not include explanations."""

REWRITE_CONTEXT_FILE = """The file `{path}`:

```python
{content}
```

"""

REWRITE_CONTEXT_OUTLINE = """An outline of the file `{path}` (its imports and definitions, bodies left out):

```python
{content}
```

"""

REWRITE_NO_CODE = """Your reply did not contain a ```python code block. \
Reply with the complete code of `{target}` in a single ```python code block."""

REWRITE_FEEDBACK = """Your code fails these checks:

{output}

Fix the code. Reply with the complete corrected code of `{target}` in a single ```python code block."""

# --- bash ---------------------------------------------------------------------------------------

BASH_SYSTEM = """You are a software engineer working in a shell, inside a git repository.

Each of your replies must contain exactly ONE shell command in ONE fenced block, like this:

```bash
ls -la
```

The command runs in the repository root and you see its exit code and output in the next \
message. Every command runs in a fresh shell: `cd` and variables do not persist, so chain \
commands with && when needed. There is no network and nothing is interactive (no editors).
To edit files use a heredoc (cat <<'EOF' > file ... EOF), sed, or python.

When you are done, reply with a block containing only the word submit:

```bash
submit
```

Your changes to the repository (its git diff) are your answer."""

BASH_TASK = """Solve this task in the repository.

{problem}

The repository contains these files:
{files}

Start by looking at the relevant files. Reply with one command per message."""

BASH_OBSERVATION = """exit code: {exit_code}{note}
{output}"""

BASH_REPEATED = """Note: you have now run this exact command {times} times in a row and got the same \
output each time. Running it again will not change anything: read the output above and try a \
different command."""

BASH_FORMAT_ERROR = """Format error: {problem} Reply with exactly one ```bash block holding one \
command, or a block containing only `submit` when you are done."""
