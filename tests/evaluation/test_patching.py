import subprocess

import pytest

from codeagent.evaluation.patching import PatchError, apply_patch

REPO = {"solution.py": "def f(x):\n    return x\n", "pkg/util.py": "A = 1\nB = 2\nC = 3\n"}


def git_patch(tmp_path, before: dict, after: dict) -> str:
    """A real patch made by git from two trees."""
    root = tmp_path / "r"
    root.mkdir()
    def write(files):
        for p, c in files.items():
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            (root / p).write_text(c)
    write(before)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], cwd=root, check=True)
    subprocess.run(git + ["add", "-A"], cwd=root, check=True)
    subprocess.run(git + ["commit", "-qm", "x"], cwd=root, check=True)
    write(after)
    subprocess.run(git + ["add", "-A"], cwd=root, check=True)
    return subprocess.run(git + ["diff", "--cached"], cwd=root, check=True, capture_output=True, text=True).stdout


def test_git_patch_applies(tmp_path):
    after = {**REPO, "solution.py": "def f(x):\n    return x + 1\n", "new.py": "N = 1\n"}
    assert apply_patch(REPO, git_patch(tmp_path, REPO, after)) == after


def test_fuzzy_patch_applies_when_context_drifted(tmp_path):
    after = {**REPO, "pkg/util.py": "A = 1\nB = 20\nC = 3\n"}
    patch = git_patch(tmp_path, REPO, after)
    drifted = {**REPO, "pkg/util.py": "# header\nA = 1\nB = 2\nC = 3\n"}
    assert apply_patch(drifted, patch)["pkg/util.py"] == "# header\nA = 1\nB = 20\nC = 3\n"


@pytest.mark.parametrize("patch, why", [
    ("", "empty"),
    ("not a diff at all\n", "not a unified diff"),
    ("--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-x\n+y\n", "outside the repository"),
    ("--- a/solution.py\n+++ b/solution.py\n@@ -1,2 +1,2 @@\n-def g(y):\n+def h(y):\n     return y\n", "does not apply"),
])
def test_bad_patches_are_patch_errors(patch, why):
    with pytest.raises(PatchError, match=why):
        apply_patch(REPO, patch)
