"""The containment self-test against real backends: every claimed case must be contained."""

from __future__ import annotations

import io
import json
import os

import pytest

from codeagent.sandbox.check import CASES, CHECK_LIMITS, CheckContext, main_check, run_case, run_checks

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_claimed_case_is_contained(backend):
    sentinel_pid = os.getpid()
    results = run_checks(backend)
    by_case = {r.case: r for r in results}
    assert list(by_case) == list(CASES), "every case ran once, leftovers last"
    assert not [r for r in results if r.detail.startswith("harness error")], results
    escaped = {r.case: r.detail for r in results if r.claimed and not r.contained}
    assert not escaped, escaped
    assert os.getpid() == sentinel_pid and by_case["kill_all"].contained and by_case["leftovers"].contained
    if backend == "docker":
        assert all(r.claimed for r in results), "docker claims every case"
    else:
        # Honesty: what local says it does not contain really escapes, and is reported so.
        assert not by_case["host_read_world_readable"].contained
        assert not by_case["host_read_world_readable"].claimed


def test_main_check_prints_json_lines_and_a_summary(tmp_path):
    from codeagent.sandbox import check
    out = io.StringIO()
    results = run_checks("local", cases=["sleep_timeout", "host_read_world_readable", "leftovers"])
    assert [r.case for r in results] == ["sleep_timeout", "host_read_world_readable", "leftovers"]
    assert results[0].contained and not results[1].contained and not results[1].claimed

    # main_check itself, on a cut-down case table (same code path, fewer cases).
    saved = dict(check.CASES)
    try:
        for name in list(check.CASES):
            if name not in ("sleep_timeout", "host_read_world_readable"):
                del check.CASES[name]
        rc = main_check("local", out)
        rc_file = main_check("local", tmp_path / "r.json")
    finally:
        check.CASES.clear()
        check.CASES.update(saved)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x.get("case") for x in lines[:-1]] == ["sleep_timeout", "host_read_world_readable"]
    assert {"case", "contained", "detail"} <= set(lines[0])
    summary = lines[-1]
    assert summary["summary"] and summary["harness_ok"] and summary["escaped"] == []
    assert summary["not_contained_by_design"] == ["host_read_world_readable"]
    assert rc == 0 and rc_file == 0
    assert json.loads((tmp_path / "r.json").read_text())["backend"] == "local"


def test_single_cases_run_alone(tmp_path):
    ctx = CheckContext("local", CHECK_LIMITS, tmp_path, "tok")
    res = run_case("daemon", ctx)
    assert res.case == "daemon" and res.contained, res.detail
    with pytest.raises(ValueError, match="known"):
        run_case("no-such-case", ctx)
    with pytest.raises(ValueError, match="known"):
        run_checks("local", cases=["no-such-case"])
