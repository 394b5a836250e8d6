"""What the loop shows a person: the table of iterations, a learning-curve PNG, report.md."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from codeagent.stats import describe

from .config import ImproveConfig
from .layout import METRICS_FILE
from .paired import changes_vs_base
from .watch import report_lines

PLOT_FILE = "learning_curve.png"
REPORT_FILE = "report.md"


def _fmt(x) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _vs_base(paired: dict | None) -> str:
    return "-" if paired is None else f"+{paired['gained']}/-{paired['lost']} (p={paired['p']:.2f})"


def _ci(e: dict) -> str:
    """The primary measure's mean and interval, e.g. '0.412 [0.350, 0.470]'."""
    key = e.get("measure")
    ci = e.get(f"{key}_ci") if key else None
    return "-" if ci is None or e.get(key) is None else f"{e[key]:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _diff(e: dict) -> str:
    d = e.get("vs_base")
    return "-" if d is None else f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def _verdict(e: dict) -> str:
    d = e.get("vs_base")
    return "-" if d is None else d["verdict"]


def measured_columns(prefix: str, e: dict) -> tuple[list[str], list[str]]:
    """Head and cells of an eval's measured columns: its primary pass@1 with the 95% interval, the
    paired difference to the base model with its interval, and the verdict word."""
    what = "sampled pass@1" if e.get("measure") == "sampled_pass@1" else "pass@1"
    return ([f"{prefix}{what} [95% CI]", f"{prefix}Δ vs base [95% CI]", f"{prefix}verdict"],
            [_ci(e), _diff(e), _verdict(e)])


def _changes(out: Path | None, metrics: list[dict]) -> dict[int, dict] | None:
    return None if out is None else changes_vs_base(out, [m["iteration"] for m in metrics])


def rows(cfg: ImproveConfig, metrics: list[dict], changes: dict[int, dict] | None = None
         ) -> tuple[list[str], list[list[str]]]:
    """The table of iterations; with `changes` (paired.changes_vs_base), also the greedy eval tasks
    gained/lost against the base model and the sign test's p-value."""
    k = f"pass@{cfg.eval.samples}" if cfg.eval.samples > 1 else None
    measured_head = measured_columns("", metrics[0].get("eval", {}))[0] if metrics else []
    head = ["iter", "model", "eval pass@1"] + (["vs base"] if changes is not None else []) + ([f"eval {k}"] if k else []) + measured_head + [
        "train solve", "gen. precision", "gen. recall", "examples", "distinct/task", "pairwise dist", "wall s"]
    body = []
    for m in metrics:
        v, e, d = m.get("verifier", {}), m.get("eval", {}), m.get("diversity", {})
        model = m.get("model", "")
        model = "base" if m["iteration"] == 0 else ("(untrained)" if m.get("training", {}).get("model") is None else f"iter_{m['iteration'] - 1}/model")
        body.append([str(m["iteration"]), model, _fmt(e.get("pass@1"))]
                    + ([_vs_base(changes.get(m["iteration"]))] if changes is not None else [])
                    + ([_fmt(e.get(k))] if k else []) + measured_columns("", e)[1] + [
            _fmt(v.get("train_solve_rate")), _fmt(v.get("generated_precision")), _fmt(v.get("generated_recall")),
            _fmt(m.get("data", {}).get("n_examples")), _fmt(d.get("distinct_per_task")),
            _fmt(d.get("mean_pairwise_distance")), f"{sum(m.get('wall_s', {}).values()):.0f}"])
    return head, body


def print_table(cfg: ImproveConfig, metrics: list[dict], out: Path | None = None) -> None:
    head, body = rows(cfg, metrics, _changes(out, metrics))
    table = Table(title=f"improve: {cfg.task_set} ({cfg.verifier} verifier)")
    for h in head:
        table.add_column(h, justify="right")
    for r in body:
        table.add_row(*r)
    Console(width=max(Console().width, 160)).print(table)


def _axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    return plt, fig, ax


def _save(plt, fig, ax, path: Path, iterations, top: float) -> None:
    ax.set_xlabel("iteration (0 = base model)")
    ax.set_ylabel("rate")
    ax.set_ylim(0, top)
    ax.set_xticks(sorted(iterations))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot(cfg: ImproveConfig, metrics: list[dict], path: Path) -> None:
    plt, fig, ax = _axes()
    its = [m["iteration"] for m in metrics]
    series = {"eval pass@1 (greedy)": [m.get("eval", {}).get("pass@1") for m in metrics]}
    k = cfg.eval.samples
    if k > 1:
        series[f"eval pass@{k}"] = [m.get("eval", {}).get(f"pass@{k}") for m in metrics]
    series["train solve rate"] = [m.get("verifier", {}).get("train_solve_rate") for m in metrics]
    series["generated-verifier precision"] = [m.get("verifier", {}).get("generated_precision") for m in metrics]
    for label, ys in series.items():
        pts = [(x, y) for x, y in zip(its, ys) if y is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=label)
    for key, e in (("eval", metrics[0].get("eval", {})), ("eval_ood", metrics[0].get("eval_ood"))):
        if e and e.get("measure"):
            _error_bars(ax, metrics, key, e["measure"], f"{'out-of-distribution ' if key == 'eval_ood' else ''}"
                                                        f"eval {e['measure'].replace('_', ' ')} (95% CI)")
    ax.set_title(f"{cfg.model} on {cfg.task_set}, {cfg.verifier} verifier")
    _save(plt, fig, ax, path, its, 1.0)


def _error_bars(ax, metrics: list[dict], key: str, measure: str, label: str) -> None:
    """The measure of each row's `key` eval with its bootstrap interval as an error bar."""
    pts = [(m["iteration"], m[key][measure], m[key][f"{measure}_ci"]) for m in metrics
           if m.get(key, {}).get(measure) is not None and m[key].get(f"{measure}_ci")]
    if pts:
        xs, ys, cis = zip(*pts)
        yerr = [[y - ci[0] for y, ci in zip(ys, cis)], [ci[1] - y for y, ci in zip(ys, cis)]]
        ax.errorbar(xs, ys, yerr=yerr, marker="s", capsize=4, linestyle=":", label=label)


def plot_side_by_side(loops: list[Path], path: Path) -> None:
    """Several loops' learning curves in one PNG: eval pass@1 (solid) and train solve rate (dashed),
    one colour per loop, labelled by folder name (e.g. the two verifier modes)."""
    plt, fig, ax = _axes()
    top, iterations = 0.0, set()
    for loop, colour in zip(loops, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        metrics = json.loads((Path(loop) / METRICS_FILE).read_text())
        for key, style, what in (("eval", "-", "eval pass@1"), ("verifier", "--", "train solve rate")):
            field = "pass@1" if key == "eval" else "train_solve_rate"
            pts = [(m["iteration"], m.get(key, {}).get(field)) for m in metrics]
            pts = [(x, y) for x, y in pts if y is not None]
            if pts:
                ax.plot(*zip(*pts), style, marker="o", color=colour, label=f"{Path(loop).name}: {what}")
                top = max(top, *(y for _, y in pts))
                iterations.update(x for x, _ in pts)
    _save(plt, fig, ax, path, iterations, min(1.0, top * 1.3 + 0.02))


def verdict_lines(metrics: list[dict]) -> list[str]:
    """The last iteration's verdict against the base model on each eval set, in words: "improved" or
    "worse" only when the paired interval excludes zero, else "within noise", the interval shown."""
    last = metrics[-1]
    out = []
    for key, where in (("eval", "eval split"), ("eval_ood", "out-of-distribution set")):
        d = last.get(key, {}).get("vs_base")
        if d is not None:
            out += ["", f"**Iteration {last['iteration']} vs base, {where}: "
                        f"{describe(d, d['measure'].replace('_', ' '))}.**"]
    return out


GROUP_NAMES = {"function": "held-out functions", "library": "held-out library"}
"""What a repository task's `heldout` metadata means, as the report says it."""


def group_lines(metrics: list[dict]) -> list[str]:
    """The eval split per group (`measure.grouped`), one row per iteration and group."""
    groups = sorted({g for m in metrics for g in m.get("eval", {}).get("by_group", {})})
    if not groups:
        return []
    first = next(m["eval"]["by_group"] for m in metrics if m.get("eval", {}).get("by_group"))
    head = ["iter", "group", "tasks"] + measured_columns("", next(iter(first.values())))[0]
    lines = ["", "Eval split by what its tasks hold out:", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in metrics:
        for g in groups:
            e = m.get("eval", {}).get("by_group", {}).get(g)
            if e is not None:
                lines.append("| " + " | ".join([str(m["iteration"]), GROUP_NAMES.get(g, g), str(e["n_tasks"])]
                                               + measured_columns("", e)[1]) + " |")
    return lines


def write_report(cfg: ImproveConfig, out: Path, metrics: list[dict]) -> None:
    plot(cfg, metrics, out / PLOT_FILE)
    changes = _changes(out, metrics)
    head, body = rows(cfg, metrics, changes)
    lines = [f"# improve: {cfg.task_set}, {cfg.verifier} verifier", "",
             f"Base model `{cfg.model}`, {cfg.iterations} iteration(s), {cfg.run.samples} sample(s) per train task, "
             f"eval on `{cfg.eval_task_set}` test split.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    lines += verdict_lines(metrics)
    first, last = metrics[0].get("eval", {}).get("pass@1"), metrics[-1].get("eval", {}).get("pass@1")
    if first is not None and last is not None:
        verdict = "went up" if last > first else ("is unchanged" if last == first else "went down")
        n = metrics[-1].get("eval", {}).get("n_tasks")
        on = f" on {n} eval tasks" if n else ""
        lines += ["", f"Eval pass@1 went from {first:.3f} (base) to {last:.3f}{on}: it {verdict}."]
        paired = changes.get(metrics[-1]["iteration"])
        if paired is not None:
            noise = "unlikely to be noise" if paired["p"] < 0.05 else "within noise"
            lines[-1] += (f" Against the base model, greedy eval gained {paired['gained']} task(s) and lost "
                          f"{paired['lost']}; exact sign test p = {paired['p']:.2f} ({noise}).")
    lines += report_lines(metrics)
    lines += group_lines(metrics)
    if metrics[0].get("eval_ood"):
        ood = metrics[0]["eval_ood"]
        head = ["iter"] + measured_columns("", ood)[0]
        lines += ["", f"Out-of-distribution eval (`{cfg.eval.ood_set}`, {ood.get('n_tasks')} tasks):", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join([str(m["iteration"])] + measured_columns("", m.get("eval_ood", {}))[1]) + " |"
                  for m in metrics]
    lines += ["", f"![learning curve]({PLOT_FILE})", "", "Stage wall times (s):", ""]
    for m in metrics:
        lines.append(f"- iteration {m['iteration']}: " + ", ".join(f"{k} {v:.0f}" for k, v in m.get("wall_s", {}).items()))
    lines += ["", "Config:", "", "```json", json.dumps(cfg.to_dict(), indent=2), "```", ""]
    (out / REPORT_FILE).write_text("\n".join(lines))
    from codeagent.report import write_report as write_html  # report.html: the same loop, to look at
    write_html(out)
