"""The page of one improve-loop folder: learning curves with confidence intervals, the per-task
matrix of the greedy eval (eval tasks × iterations, gained/lost against the base model), the
generated verifier's precision and recall, diversity, stage times and the config."""

from __future__ import annotations

import json
from math import sqrt
from pathlib import Path

from codeagent.errors import UserError
from codeagent.improve.config import ImproveConfig, config_from_dict
from codeagent.improve.layout import CONFIG_FILE, METRICS_FILE
from codeagent.improve.paired import changes_vs_base, greedy_outcomes
from codeagent.improve.report import rows as iteration_rows

from .html import Html, badge, cards, fmt, join, page, pre, section, table, tag
from .svg import Series, line_chart, stacked_bars

Z95 = 1.96


def render(loop_dir: Path) -> str:
    loop_dir = Path(loop_dir)
    cfg, metrics = _read(loop_dir)
    its = [m["iteration"] for m in metrics]
    changes = changes_vs_base(loop_dir, its)
    title = f"improve: {cfg.task_set}, {cfg.verifier} verifier"
    subtitle = (f"base model {cfg.model} · {len(metrics) - 1} of {cfg.iterations} iteration(s) done · "
                f"eval on {cfg.eval_task_set} (test split) · {loop_dir}")
    head, body = iteration_rows(cfg, metrics, changes)
    return page(title, subtitle,
                _headline(metrics, changes),
                section("Learning curves", tag("div", join([_curves(cfg, metrics), _verifier_chart(metrics)]), class_="charts"),
                        note=f"Error bars: 95% Wilson interval of greedy pass@1 over the eval tasks (n = "
                             f"{metrics[0].get('eval', {}).get('n_tasks', '?')}); one task moves pass@1 by 1/n."),
                section("Iterations", table(head, body), note="The same table as report.md."),
                _matrix(loop_dir, its),
                section("Generated verifier against the held-out tests", _verifier_table(metrics),
                        note="Per iteration, on that iteration's train attempts: of the attempts the model's own "
                             "tests accept, how many pass the held-out tests (precision), and of those passing the "
                             "held-out tests, how many are accepted (recall)."),
                section("Diversity of train attempts", _diversity(metrics)),
                section("Stage wall times", _stage_times(metrics)),
                section("Config", pre(json.dumps(cfg.to_dict(), indent=2))))


def _read(loop_dir: Path) -> tuple[ImproveConfig, list[dict]]:
    cfg_path, metrics_path = loop_dir / CONFIG_FILE, loop_dir / METRICS_FILE
    for path in (cfg_path, metrics_path):
        if not path.is_file():
            raise UserError(f"{path}: missing; pass the --out folder of `codeagent improve` "
                            "(metrics.json appears once the base model's eval has finished)")
    try:
        raw, metrics = json.loads(cfg_path.read_text()), json.loads(metrics_path.read_text())
    except ValueError as e:
        raise UserError(f"{loop_dir}: {CONFIG_FILE} or {METRICS_FILE} is not valid JSON ({e})") from None
    return config_from_dict(raw), metrics


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (sensible at 0 and n, unlike p ± z·se)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _points(metrics: list[dict], key: str, field: str) -> list[tuple[float, float]]:
    return [(m["iteration"], m[key][field]) for m in metrics if m.get(key, {}).get(field) is not None]


def _headline(metrics: list[dict], changes: dict[int, dict]) -> Html:
    first, last = metrics[0].get("eval", {}), metrics[-1].get("eval", {})
    items = [("eval pass@1, base model", fmt(first.get("pass@1"))),
             (f"eval pass@1, iteration {metrics[-1]['iteration']}", fmt(last.get("pass@1")))]
    paired = changes.get(metrics[-1]["iteration"])
    if paired is not None:
        items += [("eval tasks gained / lost vs base", f"+{paired['gained']} / -{paired['lost']}"),
                  ("exact sign test p", fmt(paired["p"], 2))]
    items.append(("eval tasks", first.get("n_tasks", "-")))
    return section("Headline", cards(items))


def _curves(cfg: ImproveConfig, metrics: list[dict]) -> Html:
    greedy = Series("eval pass@1 (greedy)", _points(metrics, "eval", "pass@1"))
    greedy.intervals = [(m["iteration"], *wilson(m["eval"]["greedy_solved"], m["eval"]["n_tasks"]))
                        for m in metrics if m.get("eval", {}).get("n_tasks")]
    series = [greedy]
    k = cfg.eval.samples
    if k > 1:
        series.append(Series(f"eval pass@{k} (sampled)", _points(metrics, "eval", f"pass@{k}")))
    series.append(Series("train solve rate (held-out)", _points(metrics, "verifier", "train_solve_rate"), dashed=True))
    return line_chart(series, title="Learning curve", x_label="iteration (0 = base model)", y_label="rate",
                      x_ticks=[m["iteration"] for m in metrics])


def _verifier_chart(metrics: list[dict]) -> Html:
    series = [Series("generated precision", _points(metrics, "verifier", "generated_precision")),
              Series("generated recall", _points(metrics, "verifier", "generated_recall")),
              Series("generated false-positive rate", _points(metrics, "verifier", "generated_fpr"), dashed=True)]
    return line_chart(series, title="Generated verifier vs held-out", x_label="iteration", y_label="rate",
                      x_ticks=[m["iteration"] for m in metrics])


def _matrix(loop_dir: Path, iterations: list[int]) -> Html:
    outcomes = {i: greedy_outcomes(loop_dir, i) for i in iterations}
    done = {i: o for i, o in outcomes.items() if o is not None}
    base = done.get(0)
    if not done or base is None:
        return section("Eval tasks × iterations", Html("<p class=note>no greedy eval has finished yet</p>"))
    tasks = sorted(set().union(*done.values()))
    rows = []
    for t in tasks:
        cells = []
        for i in done:
            solved, before = done[i].get(t, False), base.get(t, False)
            state = ("gained" if solved and not before else "lost" if before and not solved and i
                     else "solved" if solved else "unsolved")
            cells.append(badge(MARK[state], KIND[state]) if state != "unsolved" else tag("span", "·", class_="note"))
        rows.append([t, *cells, sum(done[i].get(t, False) for i in done)])
    totals = ["solved", *[sum(o.values()) for o in done.values()], ""]
    legend = join([badge(MARK[s], KIND[s]) + f" {s}  " for s in ("solved", "gained", "lost")] + ["· unsolved"])
    body = table(["eval task", *[f"iter {i}" for i in done], "solved in"], rows + [totals], class_="matrix")
    return section("Eval tasks × iterations", tag("p", legend), body,
                   note="Greedy eval, held-out tests, hack-flagged passes count as unsolved. Gained / lost: against "
                        "the base model (iteration 0).")


MARK = {"solved": "✓", "gained": "+", "lost": "−"}
KIND = {"solved": "ok", "gained": "info", "lost": "bad"}


def _verifier_table(metrics: list[dict]) -> Html:
    head = ["iter", "train solve rate", "attempt pass rate", "accepted", "precision", "recall", "false-positive rate",
            "hack-flagged"]
    rows = [[m["iteration"], fmt(v.get("train_solve_rate")), fmt(v.get("train_attempt_pass_rate")),
             fmt(v.get("generated_accepted")), fmt(v.get("generated_precision")), fmt(v.get("generated_recall")),
             fmt(v.get("generated_fpr")), fmt(v.get("hack_flagged"))]
            for m in metrics if (v := m.get("verifier"))]
    return table(head, rows) if rows else Html("<p class=note>no iteration has verified its attempts yet</p>")


def _diversity(metrics: list[dict]) -> Html:
    head = ["iter", "distinct solutions per task", "mean pairwise distance", "exported examples"]
    rows = [[m["iteration"], fmt(d.get("distinct_per_task")), fmt(d.get("mean_pairwise_distance")),
             fmt(m.get("data", {}).get("n_examples"))] for m in metrics if (d := m.get("diversity")) is not None]
    return table(head, rows) if rows else Html("<p class=note>no train run yet</p>")


def _stage_times(metrics: list[dict]) -> Html:
    bars = [(f"iteration {m['iteration']}", {k: float(v) for k, v in m.get("wall_s", {}).items()}) for m in metrics]
    stages = list(dict.fromkeys(k for _, parts in bars for k in parts))
    rows = [[label, *[fmt(parts.get(s), 0) if s in parts else "-" for s in stages], f"{sum(parts.values()):.0f}"]
            for label, parts in bars]
    return join([stacked_bars(bars, title="Wall time per stage (s)"),
                 table(["", *[f"{s} (s)" for s in stages], "total (s)"], rows)])
