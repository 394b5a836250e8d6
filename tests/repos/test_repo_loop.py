"""The loop on a repository set, unchanged commands: `codeagent run` with the rewrite agent
(localized function) and the bash agent, both with a scripted model that writes the reference
fix; `codeagent eval` of the run's trajectories; `verify` with held-out (FAIL_TO_PASS /
PASS_TO_PASS) grading and with tests the (scripted) model writes for the localized function;
`export` of the accepted attempts as multi-turn chat data. Real Docker
sandboxes, real pytest, two real tasks (toolz: a method; inflection: the held-out library)."""

from __future__ import annotations

import json

import pytest

from codeagent.agents.codeblocks import function_source
from codeagent.runfolder import RunFolder
from codeagent.tasks import load_tasks

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TASK_IDS = ("pyrepos/toolz__Compose.__doc____change_arithmetic_51c2736615",
            "pyrepos/inflection__humanize__drop_statement_b0e7e9977d")


@pytest.fixture(scope="module")
def tasks():
    by_id = {t.id: t for t in load_tasks("pyrepos", "test")}
    return [by_id[i] for i in TASK_IDS]


def reference_function(task) -> str:
    m = task.metadata
    return function_source(task.reference_files[m["file"]], m["function"], m["lineno"])


def rewrite_script(tasks) -> list[dict]:
    return [{"match": f"This is `{t.metadata['function']}` in `{t.metadata['file']}`",
             "reply": f"The fix:\n```python\n{reference_function(t)}\n```\n"} for t in tasks]


# What the scripted model answers when the generated verifier asks it for tests of each function
# (first in the script: the test-writing prompt holds the problem statement the bash rules match).
TEST_WRITER = [
    {"match": "Import it with `from toolz.functoolz import Compose`",
     "reply": "```python\ndef test_doc():\n    assert Compose((len, str)).__doc__ == "
              "'lambda *args, **kwargs: len(str(*args, **kwargs))'\n```"},
    {"match": "Import it with `from inflection import humanize`",
     "reply": "assert humanize('employee_salary') == 'Employee salary'\nassert humanize('author_id') == 'Author'"},
]


def bash_script(tasks) -> list[dict]:
    rules = list(TEST_WRITER)
    for t in tasks:
        path = t.metadata["file"]
        write = f"cat > {path} <<'FIXED_EOF'\n{t.reference_files[path]}FIXED_EOF"
        rules.append({"match": t.problem_statement, "replies": [
            f"```bash\ngrep -n 'def {t.metadata['function'].rsplit('.', 1)[-1]}' {path}\n```",
            f"```bash\n{write}\n```", "```bash\nsubmit\n```"]})
    return rules


def run(tmp_path, agent: str, script: list[dict]):
    from codeagent.run import RunConfig, run_agent
    path = tmp_path / f"{agent}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in script))
    out = tmp_path / f"run_{agent}"
    run_agent(RunConfig(task_set="pyrepos", split="test", model=f"scripted:{path}", agent=agent,
                        only_task_ids=TASK_IDS, max_tokens=50_000, temperature=0.0, concurrency=2,
                        backend="docker", progress=False), out)
    return out


def test_run_eval_verify_export_on_repository_tasks(tasks, tmp_path):
    from codeagent.cli import main
    from codeagent.export.stage import export_runs
    from codeagent.verify import accepts
    from codeagent.verify.stage import VerifyConfig, verify_run

    # run: both agents, any model; held-out tests never enter a sandbox or a prompt.
    rewrite, bash = run(tmp_path, "rewrite", rewrite_script(tasks)), run(tmp_path, "bash", bash_script(tasks))
    for folder in (rewrite, bash):
        attempts = RunFolder(folder).attempts()
        assert sorted(a.task_id for a in attempts) == sorted(TASK_IDS)
        for a in attempts:
            assert a.exit_status == "submitted", a.error
            task = next(t for t in tasks if t.id == a.task_id)
            assert a.patch.startswith(f"diff --git a/{task.metadata['file']} ")
            assert "tests/" not in a.patch and "test_inflection" not in a.patch
            prompt = "\n".join(m["content"] for m in a.messages if m["role"] != "assistant")
            assert "def test_" not in prompt
    bash_attempt = RunFolder(bash).attempts()[0]
    assert [m["role"] for m in bash_attempt.messages] == ["system", "user"] + ["assistant", "user"] * 2 + ["assistant"]

    # eval: the run's trajectories are predictions; counts by level, strategy and origin.
    assert main(["eval", "--task-set", "pyrepos", "--samples", str(rewrite / "trajectories.jsonl"),
                 "--out", str(tmp_path / "eval"), "--backend", "docker"]) == 0
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert (summary["resolved"], summary["instances"], summary["patch_applied"]) == (2, 2, 2)
    levels = {str(t.metadata["level"]) for t in tasks}
    assert set(summary["by_level"]) == levels and summary["by_origin"] == {"procedural": {"resolved": 2, "instances": 2}}
    assert summary["by_heldout"] == {"function": {"resolved": 1, "instances": 1}, "library": {"resolved": 1, "instances": 1}}
    assert summary["fail_to_pass"]["passed"] == summary["fail_to_pass"]["total"] > 0

    # verify: the held-out verifier grades by FAIL_TO_PASS / PASS_TO_PASS; the run's own model writes
    # tests of each localized function, run on each patched repo; the gap report compares the two.
    result = verify_run(bash, VerifyConfig(verifiers=("heldout", "generated"), backend="docker", progress=False))
    verdicts = RunFolder(bash).verdicts()
    assert len(verdicts) == 2 and all(accepts(v, "heldout") and accepts(v, "generated") for v in verdicts.values())
    for v in verdicts.values():
        task = next(t for t in tasks if t.id == v.task_id)
        assert set(v.part("heldout").per_test) == set(task.fail_to_pass) | set(task.pass_to_pass)
        assert v.part("generated").tests_passed == v.part("generated").n_tests > 0
    gen = result.gap_report["verifiers"]["generated"]
    assert (gen["precision"], gen["recall"], gen["n_accepted"]) == (1.0, 1.0, 2)

    # export: accepted bash attempts become multi-turn chat examples (no eval split to hold out here).
    out = tmp_path / "data"
    s = export_runs([bash], "heldout", "openai", out, eval_sets=[], progress=False)
    assert s.n_examples == 2
    lines = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert all([m["role"] for m in ex["messages"]][-3:] == ["assistant", "user", "assistant"] for ex in lines)
