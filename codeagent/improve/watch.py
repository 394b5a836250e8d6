"""The collapse watch: signs that self-training is hurting the model, and what the loop does then.

Checked on each iteration's finished metrics row, about the model trained in it:
- its eval is significantly worse than the base model's (the paired difference's verdict is
  "worse": interval below zero and the permutation test agreeing — `codeagent.stats`);
- its solutions lost diversity: distinct solutions per eval task below `min_distinct_per_task`,
  or mean pairwise distance below `min_distance_ratio` x the base model's (measured on the
  sampled eval runs, so both models answer the same tasks the same number of times).

Then `action`: "stop" ends the loop after this iteration; "keep-previous" discards the model
(the next iteration samples from, and trains on top of, the one before it); "warn" only says so.
The row records the reasons and the action, and report.md states them.
"""

from __future__ import annotations

from dataclasses import dataclass

from codeagent.errors import UserError

ACTIONS = ("stop", "keep-previous", "warn")


@dataclass(frozen=True)
class WatchConfig:
    action: str = "stop"
    """What the loop does when the watch trips: stop | keep-previous | warn."""
    on_worse: bool = True
    """Trip when eval is significantly worse than the base model's."""
    min_distinct_per_task: float | None = None
    """Trip when the trained model's distinct solutions per eval task fall below this (None: unchecked)."""
    min_distance_ratio: float | None = None
    """Trip when its mean pairwise distance between solutions falls below this fraction of the base
    model's (None: unchecked)."""

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise UserError(f"watch.action must be one of {', '.join(ACTIONS)}; got {self.action!r}")


def reasons(cfg: WatchConfig, base: dict, row: dict) -> list[str]:
    """Why the model of metrics `row` looks collapsed or harmed, compared with the `base` row ([] if not)."""
    out = []
    for key, where in (("eval", "eval split"), ("eval_ood", "out-of-distribution set")):
        d = row.get(key, {}).get("vs_base")
        if cfg.on_worse and d and d["verdict"] == "worse":
            out.append(f"{d['measure']} on the {where} is significantly worse than the base model's: "
                       f"{d['diff']:+.3f} (95% CI [{d['low']:+.3f}, {d['high']:+.3f}], permutation p = "
                       f"{d['permutation_p']:.3f})")
    now, then = row.get("eval", {}).get("diversity"), base.get("eval", {}).get("diversity")
    if now and cfg.min_distinct_per_task is not None and now["distinct_per_task"] < cfg.min_distinct_per_task:
        out.append(f"distinct solutions per eval task fell to {now['distinct_per_task']:.2f} "
                   f"(threshold {cfg.min_distinct_per_task:g})")
    if now and then and cfg.min_distance_ratio is not None and then["mean_pairwise_distance"] > 0:
        ratio = now["mean_pairwise_distance"] / then["mean_pairwise_distance"]
        if ratio < cfg.min_distance_ratio:
            out.append(f"mean pairwise distance between solutions fell to {ratio:.2f} x the base model's "
                       f"({now['mean_pairwise_distance']:.3f} vs {then['mean_pairwise_distance']:.3f}; "
                       f"threshold {cfg.min_distance_ratio:g} x)")
    return out


def check(cfg: WatchConfig, metrics: list[dict]) -> dict | None:
    """The watch's finding on the last row of `metrics` ({"reasons", "action"}), or None."""
    if len(metrics) < 2:
        return None
    found = reasons(cfg, metrics[0], metrics[-1])
    return {"reasons": found, "action": cfg.action} if found else None


def report_lines(metrics: list[dict]) -> list[str]:
    """What the watch found, for report.md."""
    lines = []
    for m in metrics:
        w = m.get("watch")
        if w:
            what = {"stop": "the loop stopped here", "keep-previous": "this model was discarded: the next "
                    "iteration continued from the previous one", "warn": "no action (watch.action = warn)"}
            lines += [f"- iteration {m['iteration']}: {what[w['action']]}, because"]
            lines += [f"  - {r}" for r in w["reasons"]]
    return (["", "Collapse watch:", ""] + lines) if lines else []
