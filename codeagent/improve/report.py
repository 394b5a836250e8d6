"""What the loop shows a person: the table of iterations, a learning-curve PNG, report.md."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .config import ImproveConfig
from .layout import METRICS_FILE
from .paired import changes_vs_base

PLOT_FILE = "learning_curve.png"
REPORT_FILE = "report.md"


def _fmt(x) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _vs_base(paired: dict | None) -> str:
    return "-" if paired is None else f"+{paired['gained']}/-{paired['lost']} (p={paired['p']:.2f})"


def _changes(out: Path | None, metrics: list[dict]) -> dict[int, dict] | None:
    return None if out is None else changes_vs_base(out, [m["iteration"] for m in metrics])


def rows(cfg: ImproveConfig, metrics: list[dict], changes: dict[int, dict] | None = None
         ) -> tuple[list[str], list[list[str]]]:
    """The table of iterations; with `changes` (paired.changes_vs_base), also the greedy eval tasks
    gained/lost against the base model and the sign test's p-value."""
    k = f"pass@{cfg.eval.samples}" if cfg.eval.samples > 1 else None
    head = ["iter", "model", "eval pass@1"] + (["vs base"] if changes is not None else []) + ([f"eval {k}"] if k else []) + [
        "train solve", "gen. precision", "gen. recall", "examples", "distinct/task", "pairwise dist", "wall s"]
    body = []
    for m in metrics:
        v, e, d = m.get("verifier", {}), m.get("eval", {}), m.get("diversity", {})
        model = m.get("model", "")
        model = "base" if m["iteration"] == 0 else ("(untrained)" if m.get("training", {}).get("model") is None else f"iter_{m['iteration'] - 1}/model")
        body.append([str(m["iteration"]), model, _fmt(e.get("pass@1"))]
                    + ([_vs_base(changes.get(m["iteration"]))] if changes is not None else [])
                    + ([_fmt(e.get(k))] if k else []) + [
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
    ax.set_title(f"{cfg.model} on {cfg.task_set}, {cfg.verifier} verifier")
    _save(plt, fig, ax, path, its, 1.0)


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


def write_report(cfg: ImproveConfig, out: Path, metrics: list[dict]) -> None:
    plot(cfg, metrics, out / PLOT_FILE)
    changes = _changes(out, metrics)
    head, body = rows(cfg, metrics, changes)
    lines = [f"# improve: {cfg.task_set}, {cfg.verifier} verifier", "",
             f"Base model `{cfg.model}`, {cfg.iterations} iteration(s), {cfg.run.samples} sample(s) per train task, "
             f"eval on `{cfg.eval_task_set}` test split.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
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
    lines += ["", f"![learning curve]({PLOT_FILE})", "", "Stage wall times (s):", ""]
    for m in metrics:
        lines.append(f"- iteration {m['iteration']}: " + ", ".join(f"{k} {v:.0f}" for k, v in m.get("wall_s", {}).items()))
    lines += ["", "Config:", "", "```json", json.dumps(cfg.to_dict(), indent=2), "```", ""]
    (out / REPORT_FILE).write_text("\n".join(lines))
    from codeagent.report import write_report as write_html  # report.html: the same loop, to look at
    write_html(out)
