"""The run page in a real headless Chromium: a real run folder (scripted model, local sandboxes,
both verifiers), loaded from a file URL with no console error; the numbers it shows are the run's;
the filters work; and the hostile markup in the model's reply is shown as text, never run."""

import json

import pytest

from codeagent.cli import main
from codeagent.report import write_report
from codeagent.runfolder import RunFolder

from report_fixtures import HOSTILE


@pytest.fixture(scope="module")
def page(run_dir, browser, tmp_path_factory):
    html = write_report(run_dir, tmp_path_factory.mktemp("run-page") / "run.html")
    loaded = browser.open(html.as_uri())
    return html, loaded


def _verdicts(run_dir):
    """Each verdict as a dict with one key per verifier part (read through the run folder's owner)."""
    return [{**v.to_dict(), **v.to_dict()["parts"]} for v in RunFolder(run_dir).verdicts().values()]


def test_loads_without_console_errors_and_screenshots(page, browser, tmp_path):
    _, loaded = page
    assert loaded.errors == []
    png = browser.screenshot(tmp_path / "run.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_shows_the_runs_numbers(page, browser, run_dir):
    verdicts = _verdicts(run_dir)
    passed = sum(v["heldout"]["passed"] for v in verdicts)
    accepted = sum(v["generated"]["accepted"] for v in verdicts)
    cards = browser.evaluate("Object.fromEntries([...document.querySelectorAll('.card')].map("
                             "c => [c.querySelector('.k').textContent, c.querySelector('.v').textContent]))")
    assert cards["attempts"] == "6" and cards["tasks"] == "3"
    assert cards["held-out pass (attempts)"] == f"{passed}/6" == "2/6"  # both is_odd attempts
    assert cards["accepted by generated tests"] == f"{accepted}/6"
    assert cards["hack-flagged"] == "2"  # both count_up attempts (always-equal)
    gap = json.loads((run_dir / "gap_report.json").read_text())["verifiers"]["generated"]
    assert cards["generated precision"] == f"{gap['precision']:.3f}"

    rows = browser.evaluate("[...document.querySelectorAll('tr[data-attempt]')].map(r => "
                            "[...r.cells].map(c => c.textContent.trim()))")
    by_id = {f"{r[0]}#{r[1]}": r for r in rows}
    assert len(rows) == 6
    for v in verdicts:
        h, g, row = v["heldout"], v["generated"], by_id[v["attempt_id"]]
        assert row[2] == f"{'pass' if h['passed'] else 'fail'} {h['n_pass']}/{h['n_total']}"
        assert row[3] == f"{'accepted' if g['accepted'] else 'rejected'} {g['tests_passed']}/{g['n_tests']}"
        assert ("always-equal" in row[4]) == bool(v["hack_flags"])
    assert by_id["pyfuncs/ds_stack_peek#0"][5] == "wrong-answer"


def test_each_attempt_shows_its_per_test_outcomes(page, browser, run_dir):
    v = next(v for v in _verdicts(run_dir) if v["attempt_id"] == "pyfuncs/ds_stack_peek#0")
    text = browser.evaluate("""(() => { const r = document.querySelector('tr[data-attempt="pyfuncs/ds_stack_peek#0"]');
        r.querySelector('button').click(); const d = document.getElementById(r.dataset.detail);
        return [d.hidden, d.innerText]; })()""")
    hidden, detail = text
    assert not hidden
    for name, outcome in v["heldout"]["per_test"].items():
        assert f"{name}\t{outcome}" in detail
    for name, outcome in v["generated"]["per_test"].items():
        assert f"{outcome} {name}" in detail
    assert "-    return stack[0] if stack else None" not in detail and "+    return stack[0] if stack else None" in detail
    assert browser.evaluate("getComputedStyle(document.querySelector('.diff .add')).backgroundColor") != "rgba(0, 0, 0, 0)"


def test_filters_narrow_the_table(page, browser):
    def shown(**filters):
        js = "".join(f"document.getElementById('filter-{k}').value = {json.dumps(v)};" for k, v in filters.items())
        return browser.evaluate(f"""(() => {{ {js}
            document.getElementById('filter-task').dispatchEvent(new Event('input'));
            return [[...document.querySelectorAll('tr[data-attempt]')].filter(r => !r.hidden).map(r => r.dataset.attempt),
                    document.getElementById('shown-count').textContent]; }})()""")
    rows, count = shown(task="", heldout="passed", generated="", hack="", kind="")
    assert sorted(rows) == ["pyfuncs/bit_is_odd#0", "pyfuncs/bit_is_odd#1"] and count == "2"
    rows, _ = shown(task="stack", heldout="", generated="accepted", hack="", kind="")
    assert sorted(rows) == ["pyfuncs/ds_stack_peek#0", "pyfuncs/ds_stack_peek#1"]
    rows, _ = shown(task="", heldout="", generated="", hack="flagged", kind="")
    assert all(r.startswith("pyfuncs/gen_count_up") for r in rows) and len(rows) == 2
    rows, count = shown(task="", heldout="", generated="", hack="", kind="")
    assert len(rows) == 6 and count == "6"


def test_model_output_is_shown_as_text_and_never_runs(page, browser):
    html, _ = page
    raw = html.read_text()
    assert HOSTILE not in raw and raw.count("<script") == 1
    assert browser.evaluate("document.body.dataset.pwned") is None  # neither the <script> nor onerror ran
    assert browser.evaluate("document.querySelectorAll('img, textarea').length") == 0
    reply = browser.evaluate("""[...document.querySelectorAll('.msg pre')].map(p => p.textContent)
                                .find(t => t.startsWith('Sure!'))""")
    assert HOSTILE in reply  # the reply reads exactly as the model wrote it
    patch = browser.evaluate("document.querySelector('tr.detail .diff').textContent")
    assert HOSTILE in patch


def test_cli_writes_next_to_the_run_and_rejects_other_folders(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").is_file() and str(run_dir / "report.html") in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit:
        main(["report", str(tmp_path)])
    assert exit.value.code == 1 and "neither a run folder" in capsys.readouterr().err
