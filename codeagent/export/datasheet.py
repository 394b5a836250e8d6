"""`datasheet.json` + `datasheet.md` next to the exported data: where it came from and what each
filter removed, so a trained checkpoint can always be traced back to its evidence."""

from __future__ import annotations

import json
import os
from pathlib import Path

JSON_FILE = "datasheet.json"
MD_FILE = "datasheet.md"


def write_datasheet(out: Path, sheet: dict) -> list[Path]:
    paths = []
    for name, text in ((JSON_FILE, json.dumps(sheet, indent=2, ensure_ascii=False) + "\n"),
                       (MD_FILE, render_markdown(sheet))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)
        paths.append(out / name)
    return paths


def read_datasheet(folder: Path) -> dict | None:
    path = Path(folder) / JSON_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None


def render_markdown(s: dict) -> str:
    lines = [f"# Training data: {s['n_examples']} examples ({s['format']} format)", ""]
    if s.get("iteration") is not None:
        lines += [f"Improve-loop iteration: {s['iteration']}", ""]
    lines += ["## Sources", "", "| run | task set | split | model | agent | attempts | verifier precision |",
              "|---|---|---|---|---|---|---|"]
    for r in s["runs"]:
        prec = "n/a" if r["verifier_precision"] is None else f"{r['verifier_precision']:.3f}"
        lines.append(f"| {r['run_id']} (`{r['path']}`) | {r['task_set']} | {r['split']} | {r['model']} | "
                     f"{r['agent']} | {r['attempts']} | {prec} |")
    lines += ["", f"Verifier: **{s['verifier']}**. {s['verifier_note']}", "",
              "Evaluation splits excluded: " + (", ".join(s["eval_sets"]) or "none")
              + f" (n-gram length {s['ngram']})", "", "## Filters", "", "| stage | examples left |", "|---|---|"]
    lines += [f"| {stage} | {n} |" for stage, n in s["counts"].items()]
    lines += ["", "## Dropped, by reason", ""]
    lines += [f"- {reason}: {n}" for reason, n in s["dropped_by_reason"].items()] or ["- nothing"]
    if s.get("hack_kinds"):
        lines += ["", "Hack flags: " + ", ".join(f"{k} ({n})" for k, n in s["hack_kinds"].items())]
    lines += ["", "Every dropped attempt and its reason: `dropped.jsonl`.", "", "## Per family", "",
              "| family | attempts | accepted | exported |", "|---|---|---|---|"]
    lines += [f"| {f} | {c['attempts']} | {c['accepted']} | {c['exported']} |" for f, c in s["per_family"].items()]
    lines += ["", "## Per task (exported examples)", "", "| task | examples |", "|---|---|"]
    lines += [f"| {t} | {n} |" for t, n in s["per_task"].items()]
    lines += ["", "## Files", ""] + [f"- `{f}`" for f in s["files"]]
    return "\n".join(lines) + "\n"
