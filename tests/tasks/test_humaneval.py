import pytest

from codeagent.tasks import TaskSetError, available_task_sets, load_tasks


def test_humaneval_has_164_test_tasks_and_no_train_split():
    tasks = load_tasks("humaneval", "test")
    assert len(tasks) == 164
    t = tasks[0]
    assert t.repo_files["solution.py"].startswith("\n\ndef has_close_elements") or "def has_close_elements" in t.repo_files["solution.py"]
    assert "check(_solution.has_close_elements)" in t.heldout_tests["test_heldout.py"]
    # held-out tests are not part of what the agent starts from
    assert not set(t.heldout_tests) & set(t.repo_files)
    with pytest.raises(TaskSetError, match="no 'train' split"):
        load_tasks("humaneval", "train")


def test_registry_lists_builtin_and_folder_sets():
    sets = available_task_sets()
    assert "humaneval" in sets and "pyfuncs" in sets


def test_unknown_set_names_the_known_ones():
    with pytest.raises(TaskSetError, match="known: .*humaneval"):
        load_tasks("nope")
