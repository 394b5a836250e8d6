"""The loop page in a real headless Chromium: learning curves, the per-task matrix against the
base model, the verifier's precision/recall, diversity, stage times and config, with the numbers
of the loop folder (see report_fixtures.make_loop)."""

import json

import pytest

from codeagent.cli import main
from codeagent.improve import preset_config
from codeagent.improve.paired import sign_test_p
from codeagent.improve.report import write_report as write_loop_report
from codeagent.report import write_report

from report_fixtures import EVAL, make_loop


@pytest.fixture(scope="module")
def page(loop_dir, browser):
    html = write_report(loop_dir)
    return html, browser.open(html.as_uri())


def _cards(browser):
    return browser.evaluate("Object.fromEntries([...document.querySelectorAll('.card')].map("
                            "c => [c.querySelector('.k').textContent, c.querySelector('.v').textContent]))")


def test_loads_without_console_errors_and_screenshots(page, browser, tmp_path):
    _, loaded = page
    assert loaded.errors == []
    png = browser.screenshot(tmp_path / "loop.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000


def test_headline_is_the_paired_change_against_the_base_model(page, browser):
    cards = _cards(browser)
    assert cards["eval pass@1, base model"] == "0.400" and cards["eval pass@1, iteration 2"] == "0.800"
    assert cards["eval tasks gained / lost vs base"] == "+2 / -0"  # c and d; e passes only with a hack flag
    assert cards["exact sign test p"] == f"{sign_test_p(2, 0):.2f}" == "0.50"


def test_matrix_marks_solved_gained_and_lost_per_task(page, browser):
    rows = browser.evaluate("[...document.querySelectorAll('table.matrix tbody tr')].map(r => "
                            "[...r.cells].map(c => c.textContent.trim()))")
    marks = {r[0]: r[1:4] for r in rows[:-1]}
    assert marks == {"pyfuncs/a": ["✓", "✓", "✓"], "pyfuncs/b": ["✓", "−", "✓"], "pyfuncs/c": ["·", "+", "+"],
                     "pyfuncs/d": ["·", "+", "+"], "pyfuncs/e": ["·", "·", "·"]}
    assert rows[-1][1:4] == [str(sum(o.values())) for o in EVAL.values()] == ["2", "3", "4"]


def test_curves_tables_and_config_show_the_metrics(page, browser, loop_dir):
    metrics = json.loads((loop_dir / "metrics.json").read_text())
    text = browser.evaluate("document.body.innerText")
    svg = browser.evaluate("[...document.querySelectorAll('svg title')].map(t => t.textContent)")
    # every eval pass@1 point is drawn, with its Wilson interval
    for m in metrics:
        assert f"eval pass@1 (greedy) at {m['iteration']}: {m['eval']['pass@1']:.3f}" in svg
    assert "eval pass@1 (greedy) at 0: [0.118, 0.769]" in svg  # Wilson 95% for 2/5
    verifier = browser.evaluate("[...document.querySelectorAll('section')].find(s => s.querySelector('h2')"
                                ".textContent.startsWith('Generated verifier')).querySelector('tbody').innerText")
    for m in metrics[1:]:
        v = m["verifier"]
        assert f"{m['iteration']}\t{v['train_solve_rate']:.3f}\t{v['train_attempt_pass_rate']:.3f}\t" \
               f"{v['generated_accepted']}\t{v['generated_precision']:.3f}\t{v['generated_recall']:.3f}" in verifier
        assert f"{m['diversity']['mean_pairwise_distance']:.3f}" in text
        assert f"iteration {m['iteration']}\t{m['wall_s']['eval']:.0f}\t30\t12\t1\t40\t{sum(m['wall_s'].values()):.0f}" in text
    assert '"max_tasks": 5' in text and '"verifier": "generated"' in text


def test_cli_on_a_loop_folder(loop_dir, tmp_path, capsys):
    out = tmp_path / "elsewhere" / "loop.html"
    assert main(["report", str(loop_dir), "--out", str(out)]) == 0
    assert "Eval tasks × iterations" in out.read_text() and str(out) in capsys.readouterr().out


def test_the_loops_own_report_writes_the_page_too(tmp_path):
    loop = make_loop(tmp_path / "loop")
    metrics = json.loads((loop / "metrics.json").read_text())
    write_loop_report(preset_config("ci", eval_tasks=5), loop, metrics)
    assert (loop / "report.md").is_file() and "Eval tasks × iterations" in (loop / "report.html").read_text()
