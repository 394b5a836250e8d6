"""The `format: repos` task set: one module owns its files.

    taskset.yaml        name, description, format: repos, sources, heldout_library, how it was built
    tasks/SOURCE.jsonl  one validated bug per line (the function before/after, F2P, P2P, statement)
    split.json          {task id: train|test}; see `split_for`
    .synth/             the synthesizer's resumable journal (not shipped)

Library code is never stored: loading a set fetches each pinned sdist (cached, sha256-checked)
and lays each bug into it. A task's repo is the library code with the bug; its held-out tests
are the sdist's test files, pristine; its reference fix restores the pristine file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path

import yaml

from codeagent.tasks.base import SPLITS, Task, TaskSetError, round_robin

from .mutate import Candidate
from .sources import load_source, pristine

TEST_FRACTION = 0.2
REQUIRED_RECORD_FIELDS = ("id", "file", "function", "before", "after", "fail_to_pass", "pass_to_pass",
                          "problem_statement", "level", "strategy")


def function_key(source: str, file: str, function: str) -> str:
    return f"{source}:{file}:{function}"


def split_for(source: str, file: str, function: str, heldout_library: str | None) -> tuple[str, str | None]:
    """(split, why held out). Split by source function, so no function is in both splits; the
    held-out library's tasks are all `test`, so generalisation to unseen code can be measured."""
    if source == heldout_library:
        return "test", "library"
    h = int(hashlib.sha256(function_key(source, file, function).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return ("test", "function") if h < TEST_FRACTION else ("train", None)


def unified_diff(path: str, old: str, new: str) -> str:
    """A git-style patch turning `old` into `new` at `path` (what `git apply` takes)."""
    body = "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"a/{path}", f"b/{path}", n=3))
    return f"diff --git a/{path} b/{path}\n{body}" if body else ""


def write_set(out: Path, sources, records: dict[str, list[dict]], *, seed: int, strategies: list[str],
              heldout_library: str | None, stats, command: str, model: str | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "tasks").mkdir(exist_ok=True)
    split = {}
    for src in sources:
        with open(out / "tasks" / f"{src.name}.jsonl", "w") as f:
            for r in records[src.name]:
                f.write(json.dumps(r, sort_keys=True) + "\n")
                split[r["id"]] = split_for(src.name, r["file"], r["function"], heldout_library)[0]
    (out / "split.json").write_text(json.dumps(dict(sorted(split.items())), indent=1) + "\n")
    meta = {
        "name": out.name,
        "description": "Bug-fix tasks synthesized from real libraries (bugs made by "
                       f"{_makers(strategies, model)}, validated by FAIL_TO_PASS / PASS_TO_PASS with "
                       "their own test suites).",
        "format": "repos",
        "sources": [s.name for s in sources],
        "heldout_library": heldout_library,
        "split_file": "split.json",
        "built_with": {"seed": seed, "strategies": strategies, **({"model": model} if model else {}),
                       "command": command},
        "stats": [{"source": s.source, "baseline_tests": s.baseline_tests, "candidates": s.candidates,
                   "kept": s.kept, "reasons": s.reasons, **({"self_play_replies": s.replies} if s.replies else {}),
                   "seconds": s.seconds} for s in stats],
    }
    (out / "taskset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, width=100))


def _makers(strategies: list[str], model: str | None) -> str:
    from .selfplay import SELF_PLAY
    makers = (["procedural AST edits"] if any(s != SELF_PLAY for s in strategies) else []) + \
        ([f"the model {model} (self-play)"] if SELF_PLAY in strategies else [])
    return " and ".join(makers)


def load_repo_tasks(root: Path, meta: dict, name: str) -> list[Task]:
    """Tasks of a `format: repos` set folder (fetches the pinned sources on first use)."""
    split_path = root / meta.get("split_file", "split.json")
    if not split_path.is_file():
        raise TaskSetError(f"{split_path}: split file missing; rebuild the set with `codeagent tasks synthesize`")
    split = json.loads(split_path.read_text())
    heldout_library = meta.get("heldout_library")
    tasks: list[Task] = []
    for source_name in meta.get("sources") or []:
        src = load_source(source_name)
        pr = pristine(src)
        path = root / "tasks" / f"{source_name}.jsonl"
        if not path.is_file():
            raise TaskSetError(f"{path}: missing; taskset.yaml lists source {source_name!r}")
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            r = json.loads(line)
            missing = [f for f in REQUIRED_RECORD_FIELDS if f not in r]
            if missing:
                raise TaskSetError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            if split.get(r["id"]) not in SPLITS:
                raise TaskSetError(f"{path}:{lineno}: task {r['id']!r} has no split in {split_path}")
            cand = Candidate(source_name, r["file"], r["function"], r["strategy"], 0, r.get("lineno", 0),
                             r["before"], r["after"])
            if r["file"] not in pr.code:
                raise TaskSetError(f"{path}:{lineno}: {r['file']} is not a source file of {src.pin}")
            try:
                repo = cand.apply(pr.code)
            except ValueError as e:
                raise TaskSetError(f"{path}:{lineno}: the bug does not apply to {src.pin}: {e}") from None
            _, why = split_for(source_name, r["file"], r["function"], heldout_library)
            tasks.append(Task(
                id=f"{name}/{r['id']}", task_set=name, split=split[r["id"]],
                problem_statement=r["problem_statement"], repo_files=repo, heldout_tests=pr.tests,
                reference_files={r["file"]: pr.code[r["file"]]},
                fail_to_pass=list(r["fail_to_pass"]), pass_to_pass=list(r["pass_to_pass"]),
                metadata={"kind": "repo", "source": source_name, "pin": src.pin, "sha256": src.sha256,
                          "file": r["file"], "function": r["function"], "lineno": r.get("lineno"),
                          "family": source_name,
                          "strategy": r["strategy"], "level": int(r["level"]), "heldout": why,
                          **({"bug_model": r["model"]} if r.get("model") else {}),
                          "timeout_s": src.timeout_s,
                          "bug_patch": unified_diff(r["file"], pr.code[r["file"]], repo[r["file"]]),
                          "reference_patch": unified_diff(r["file"], repo[r["file"]], pr.code[r["file"]])},
            ))
    # Libraries interleaved per split: a `--max-tasks` slice of the test split then holds both
    # held-out functions and the held-out library, not the first library's tasks alone.
    return [t for s in SPLITS for t in round_robin([t for t in tasks if t.split == s], "source")]
