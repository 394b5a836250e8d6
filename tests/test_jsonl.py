"""JSONL a user hands us (SWE-bench instances, predictions): every bad line is named by file and
line, and either stops the read or is reported while the rest is kept."""

import pytest

from codeagent.errors import UserError
from codeagent.jsonl import input_records
from codeagent.tasks.base import TaskSetError


def _file(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 1}\n\n{not json\n[1, 2]\n{"a": 2}\n')
    return path


def test_bad_lines_are_reported_and_the_rest_is_read(tmp_path):
    path = _file(tmp_path)
    problems: list[str] = []
    records = list(input_records(path, "instance", problems=problems))
    assert records == [(f"{path}:1", {"a": 1}), (f"{path}:5", {"a": 2})]
    assert problems == [f"{path}:3: not a JSON object; each line must be one instance",
                        f"{path}:4: not a JSON object; each line must be one instance"]


def test_without_a_problem_list_the_first_bad_line_raises_the_callers_error(tmp_path):
    path = _file(tmp_path)
    with pytest.raises(UserError, match=r"in\.jsonl:3: not a JSON object; each line must be one prediction"):
        list(input_records(path, "prediction"))
    with pytest.raises(TaskSetError, match=r"in\.jsonl:3: "):
        list(input_records(path, "instance", TaskSetError))


def test_a_line_that_is_not_utf8_is_named_and_a_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"a": 1}\n{"name": "caf\u00e9"}\n'.encode("latin-1") + b'{"a": 3}\n')
    problems: list[str] = []
    assert [r for _, r in input_records(path, "instance", problems=problems)] == [{"a": 1}, {"a": 3}]
    assert problems == [f"{path}:2: not UTF-8 text (byte 14); each line must be one instance"]
    with pytest.raises(UserError, match=r"missing\.jsonl: no such file; expected a JSONL file, one prediction per line"):
        list(input_records(tmp_path / "missing.jsonl", "prediction"))
