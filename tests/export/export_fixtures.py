"""A tiny real run dir for export tests: a declarative task set, attempts whose patches are
`git diff`s of a real repository, and verdicts covering each filter."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from codeagent.jsonl import JsonlAppender
from codeagent.trajectory import Attempt, Step
from codeagent.verify.record import GeneratedVerdict, HackFlag, HeldoutVerdict, Verdict

SYSTEM = "You are a careful Python programmer."
SET = "toyset"  # the set's own name (taskset.yaml), which is what attempts record
EVENS_DOC = ("Return the even numbers of xs in their original order, dropping every odd number "
             "and keeping duplicates exactly as many times as they appear in the input list.")

FAMILIES = {
    "strings": [
        ("shout", "train", "def shout(s: str) -> str:\n    \"\"\"Return s upper-cased with one '!' appended.\"\"\"\n",
         "def shout(s: str) -> str:\n    return s.upper() + '!'\n",
         "def test_shout():\n    assert shout('hi') == 'HI!'\n"),
        ("rev", "train", "def rev(s: str) -> str:\n    \"\"\"Return s reversed.\"\"\"\n",
         "def rev(s: str) -> str:\n    return s[::-1]\n",
         "def test_rev():\n    assert rev('ab') == 'ba'\n"),
    ],
    "lists": [
        ("total", "train", "def total(xs: list) -> int:\n    \"\"\"Return the sum of xs.\"\"\"\n",
         "def total(xs: list) -> int:\n    return sum(xs)\n",
         "def test_total():\n    assert total([1, 2]) == 3\n"),
        ("evens", "test", f"def evens(xs: list) -> list:\n    \"\"\"{EVENS_DOC}\"\"\"\n",
         "def evens(xs: list) -> list:\n    return [x for x in xs if x % 2 == 0]\n",
         "def test_evens():\n    assert evens([1, 2, 2]) == [2, 2]\n"),
        # a near-copy of the evaluation task `evens` under another name: the n-gram filter's target
        ("only_even", "train", f"def only_even(xs: list) -> list:\n    \"\"\"{EVENS_DOC}\"\"\"\n",
         "def only_even(xs: list) -> list:\n    return [x for x in xs if x % 2 == 0]\n",
         "def test_only_even():\n    assert only_even([1, 2]) == [2]\n"),
    ],
}


def make_task_set(root: Path) -> Path:
    import yaml
    ts = root / SET
    (ts / "families").mkdir(parents=True)
    (ts / "taskset.yaml").write_text(f"name: {SET}\ndescription: export test set\nformat: functions\n"
                                     "split_file: split.json\n")
    split = {}
    for family, tasks in FAMILIES.items():
        rows = []
        for name, sp, prompt, solution, tests in tasks:
            split[name] = sp
            rows.append({"name": name, "tier": 1, "entry_point": name, "prompt": prompt,
                         "solution": solution, "tests": tests})
        (ts / "families" / f"{family}.yaml").write_text(yaml.safe_dump({"family": family, "tasks": rows}))
    (ts / "split.json").write_text(json.dumps(split))
    return ts


def git_patch(work: Path, before: str, after: str, path: str = "solution.py") -> str:
    """A real `git diff` turning `before` into `after`."""
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q"], check=True)
    (work / path).write_text(before)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "base"], check=True)
    (work / path).write_text(after)
    return subprocess.run(git + ["diff"], check=True, capture_output=True, text=True).stdout


def _prompt(name: str) -> str:
    for tasks in FAMILIES.values():
        for n, _, prompt, _, _ in tasks:
            if n == name:
                return prompt
    raise KeyError(name)


def single_turn(work: Path, name: str, index: int, code: str) -> Attempt:
    prompt = _prompt(name)
    reply = f"Sure! Here is the function:\n```python\n{code}```\nThis should work."
    return Attempt(run_id="run-1", task_id=f"{SET}/{name}", task_set=SET, split="train",
                   sample_index=index, model="smollm2-135m", agent="single", agent_config={},
                   messages=[{"role": "system", "content": SYSTEM},
                             {"role": "user", "content": f"Complete solution.py:\n```python\n{prompt}```"},
                             {"role": "assistant", "content": reply}],
                   patch=git_patch(work, prompt, code))


def bash_turns(work: Path, name: str, index: int, code: str) -> Attempt:
    """A multi-turn bash trajectory: look, write, test, submit (with one format error between)."""
    prompt = _prompt(name)
    actions = ["cat solution.py", f"cat > solution.py <<'EOF'\n{code}EOF", "python -c 'import solution'",
               "echo SUBMIT"]
    observations = [prompt, "", "", ""]
    messages = [{"role": "system", "content": SYSTEM + " Run one ```bash block per reply."},
                {"role": "user", "content": f"Implement {name} in solution.py.\n{prompt}"}]
    for k, (a, o) in enumerate(zip(actions, observations)):
        if k == 2:
            messages += [{"role": "assistant", "content": "I think I am done."},
                         {"role": "user", "content": "Format error: give exactly one ```bash block."}]
        messages += [{"role": "assistant", "content": f"Step {k}.\n```bash\n{a}\n```"},
                     {"role": "user", "content": f"exit code 0\n{o}"}]
    return Attempt(run_id="run-1", task_id=f"{SET}/{name}", task_set=SET, split="train",
                   sample_index=index, model="smollm2-135m", agent="bash", agent_config={"step_limit": 10},
                   messages=messages, steps=[Step(a, o, 0) for a, o in zip(actions, observations)],
                   patch=git_patch(work, prompt, code))


def verdict(a: Attempt, heldout: bool = True, generated: bool = True, hack: str | None = None) -> Verdict:
    return Verdict(attempt_id=a.attempt_id, task_id=a.task_id, parts={
        "heldout": HeldoutVerdict(passed=heldout, n_pass=int(heldout), n_total=1, per_test={}),
        "generated": GeneratedVerdict(accepted=generated, tests_passed=3 if generated else 0, n_tests=3,
                                      cluster_size=1, cluster_score=1.0)},
        hack_flags=[HackFlag(hack, "test file edited")] if hack else [])


def build_run(root: Path) -> tuple[Path, Path]:
    """(run dir, task set dir). What each attempt is for is said next to it."""
    ts = make_task_set(root / "sets")
    work = root / "repo"
    shout = "def shout(s: str) -> str:\n    return s.upper() + '!'\n"
    shout_fmt = "def shout(s: str) -> str:\n    # shout it\n    return s.upper()  +  '!'\n"
    shout_b = "def shout(s: str) -> str:\n    return f'{s.upper()}!'\n"
    shout_c = "def shout(s: str) -> str:\n    return ''.join(c.upper() for c in s) + '!'\n"
    plan = [
        (single_turn(work, "shout", 0, shout), {}),                  # kept
        (single_turn(work, "shout", 1, shout_fmt), {}),              # duplicate of shout#0 (comments/spaces)
        (single_turn(work, "shout", 2, shout_b), {}),                # kept (2nd of the cap)
        (single_turn(work, "shout", 3, shout_c), {}),                # over the cap of 2
        (single_turn(work, "rev", 0, "def rev(s: str) -> str:\n    return s[::-1]\n"),
         {"hack": "touches-tests"}),                                     # hack-flagged
        (single_turn(work, "rev", 1, "def rev(s: str) -> str:\n    return s\n"),
         {"heldout": False, "generated": False}),                        # rejected
        (single_turn(work, "total", 0, "def total(xs: list) -> int:\n    return sum(xs)\n"),
         {"generated": False}),                                          # heldout only
        (bash_turns(work, "total", 1, "def total(xs: list) -> int:\n    t = 0\n    for x in xs:\n"
                                          "        t += x\n    return t\n"), {}),  # multi-turn, kept
        (single_turn(work, "evens", 0, "def evens(xs: list) -> list:\n    return [x for x in xs if x % 2 == 0]\n"),
         {}),                                                            # eval split
        (single_turn(work, "only_even", 0,
                     "def only_even(xs: list) -> list:\n    return [x for x in xs if not x % 2]\n"), {}),  # n-gram
    ]
    run = root / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task_set": str(ts), "split": "train", "model": "smollm2-135m",
                                                 "agent": "single", "run_id": "run-1"}))
    with JsonlAppender(run / "trajectories.jsonl") as traj, JsonlAppender(run / "verdicts.jsonl") as ver:
        for attempt, v in plan:
            traj.append(attempt.to_dict())
            ver.append(verdict(attempt, **v).to_dict())
    (run / "gap_report.json").write_text(json.dumps({"generated": {"precision": 0.875, "recall": 0.5}}))
    return run, ts
