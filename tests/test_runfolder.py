"""One owner of the run folder: a folder written before the verdict redesign (format 1, checked in)
still reads; torn tails are skipped; unknown record versions and fields fail clearly."""

import json
import shutil
from pathlib import Path

import pytest

from codeagent.export.stage import export_runs
from codeagent.runfolder import RunFolder, RunFolderError
from codeagent.verify import accepts
from codeagent.verify.record import GeneratedVerdict, HeldoutVerdict

V1 = Path(__file__).parent / "fixtures" / "run_folder_v1"


def test_a_format_1_run_folder_reads_typed(tmp_path):
    run = RunFolder(V1)
    config, attempts, verdicts = run.config(), run.attempts(), run.verdicts()
    assert config["task_set"] == "pyfuncs" and len(attempts) == 12 and len(verdicts) == 12
    assert all(isinstance(v.part("heldout"), HeldoutVerdict) and isinstance(v.part("generated"), GeneratedVerdict)
               for v in verdicts.values())
    assert sum(accepts(v, "heldout") for v in verdicts.values()) == 6
    assert set(run.generated_tests()) == {a.task_id for a in attempts}
    assert run.gap_report()["verifiers"]["generated"]["precision"] == 1.0
    # and the stages read it: export of the old folder works as it did
    copy = tmp_path / "run"
    shutil.copytree(V1, copy)
    summary = export_runs([copy], "heldout", "openai", tmp_path / "data", eval_sets=[], progress=False)
    assert summary.n_examples == 3  # 6 correct attempts: 3 tasks, two identical samples each


def test_torn_tail_is_skipped_and_rewritten(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(V1, run_dir)
    path = run_dir / "verdicts.jsonl"
    whole = path.read_text()
    path.write_text(whole + whole.splitlines()[0][:30])  # a killed writer's half line
    run = RunFolder(run_dir)
    assert len(run.verdicts()) == 12
    with run.verdicts_writer() as w:
        w.append(json.loads(whole.splitlines()[0]))
    assert len(path.read_text().splitlines()) == 13 and all(json.loads(l) for l in path.read_text().splitlines())


def test_unknown_fields_and_newer_versions_fail_with_file_and_line(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(V1, run_dir)
    lines = (run_dir / "trajectories.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    (run_dir / "trajectories.jsonl").write_text("\n".join([lines[0], json.dumps({**first, "mood": "great"})]) + "\n")
    with pytest.raises(RunFolderError, match=r"trajectories.jsonl:2: not a valid attempt record \(unknown field\(s\) mood"):
        RunFolder(run_dir).attempts()
    (run_dir / "trajectories.jsonl").write_text(json.dumps({**first, "format_version": 9}) + "\n")
    with pytest.raises(RunFolderError, match=r"trajectories.jsonl:1: .*format_version 9 is newer"):
        RunFolder(run_dir).attempts()
    (run_dir / "verdicts.jsonl").write_text(json.dumps({"attempt_id": "x#0", "task_id": "x", "parts": {"nosuch": {}}}) + "\n")
    with pytest.raises(RunFolderError, match=r"verdicts.jsonl:1: .*unknown verifier 'nosuch'"):
        RunFolder(run_dir).verdicts()


def test_missing_folder_and_config_say_what_to_pass(tmp_path):
    with pytest.raises(RunFolderError, match="run dir not found"):
        RunFolder(tmp_path / "nope").config()
    with pytest.raises(RunFolderError, match=r"not a run dir \(no config.json\)"):
        RunFolder(tmp_path).config()
