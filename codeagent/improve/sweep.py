"""A recipe sweep: several loop settings x verifier modes x seeds, from one spec file, one command.

The spec (YAML or JSON) names a preset, options shared by every loop (the same keys as
`preset_config`: command-line option names or dotted stage fields), the seeds, the verifier modes
and the settings to try, each a dict of overrides:

    preset: full-cpu
    options: {task_set: pyfuncs, eval_samples: 8, ood_eval: humaneval, ood_eval_tasks: 40}
    seeds: [0, 1]
    verifiers: [heldout, generated]
    settings:
      lora: {}
      full-finetune: {lora: false}

Every config is built (and so checked) before any work starts. Each (setting, verifier) is an
`improve --seeds` folder `OUT/SETTING/VERIFIER/` (resumable: rerun the same command). Loops of one
seed that agree on the base eval's or the first run's config do that work once (`reuse.py`): the
generated mode starts from the held-out mode's base eval and first samples. Then
`sweep.json` / `sweep.md` summarise, per setting, verifier and iteration, the paired difference
to the base model over seeds, and — where both modes ran — the share of the held-out (oracle)
mode's gain that the generated mode recovers, per seed, with its bootstrap interval.
"""

from __future__ import annotations

import json
from pathlib import Path

from codeagent.errors import UserError
from codeagent.jsonl import write_json
from codeagent.stats import mean_sd, recovered, rounded

from .config import ImproveConfig, preset_config
from .layout import METRICS_FILE, seed_folder
from .measure import primary, rates
from .seeds import improve_seeds

SWEEP_FILE = "sweep.json"
SWEEP_REPORT = "sweep.md"
SPEC_KEYS = {"preset", "options", "seeds", "verifiers", "settings"}


def read_spec(path: Path) -> dict:
    """The spec file, checked: unknown keys, wrong types and bad options fail naming the field."""
    import yaml
    path = Path(path)
    if not path.is_file():
        raise UserError(f"sweep spec not found: {path}")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML/JSON: {e}") from None
    if not isinstance(spec, dict):
        raise UserError(f"{path}: expected a mapping with keys {', '.join(sorted(SPEC_KEYS))}")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise UserError(f"{path}: unknown key(s) {sorted(unknown)}; known: {', '.join(sorted(SPEC_KEYS))}")
    settings = spec.get("settings")
    if not isinstance(settings, dict) or not settings or not all(isinstance(v, dict) for v in settings.values()):
        raise UserError(f"{path}: 'settings' must map each setting's name to a dict of overrides, e.g. {{lora: {{}}}}")
    seeds = spec.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise UserError(f"{path}: 'seeds' must be a list of integers, got {seeds!r}")
    verifiers = spec.get("verifiers", ["heldout", "generated"])
    if not isinstance(verifiers, list) or not verifiers:
        raise UserError(f"{path}: 'verifiers' must be a list, e.g. [heldout, generated]")
    if not isinstance(spec.get("options", {}), dict):
        raise UserError(f"{path}: 'options' must be a mapping of option -> value")
    return {"preset": spec.get("preset"), "options": spec.get("options") or {}, "seeds": seeds,
            "verifiers": verifiers, "settings": settings}


def configs(spec: dict, where: str = "sweep spec") -> dict[tuple[str, str], ImproveConfig]:
    """(setting, verifier) -> its loop config; a bad option fails naming the setting."""
    out = {}
    for name, overrides in spec["settings"].items():
        for verifier in spec["verifiers"]:
            try:
                out[(name, verifier)] = preset_config(spec["preset"], **{**spec["options"], **overrides,
                                                                           "verifier": verifier})
            except UserError as e:
                raise UserError(f"{where}: setting {name!r}, verifier {verifier!r}: {e}") from None
    return out


def run_sweep(spec_path: Path, out: Path) -> list[dict]:
    spec = read_spec(spec_path)
    planned = configs(spec, str(spec_path))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep_spec.json").write_text(json.dumps(spec, indent=2))
    donors: list = []  # finished loops: a later one takes their base eval and first run where configs agree
    for (name, verifier), cfg in planned.items():
        improve_seeds(cfg, spec["seeds"], out / name / verifier, donors)
    rows = summarise(out, spec)
    write_json(out / SWEEP_FILE, rows)
    (out / SWEEP_REPORT).write_text(markdown(rows, spec))
    return rows


def summarise(out: Path, spec: dict) -> list[dict]:
    """Per setting, verifier and iteration: the seeds' paired difference to base (from seeds.json)
    and, for the generated mode, the share of the held-out mode's gain it recovers."""
    rows = []
    for name in spec["settings"]:
        for verifier in spec["verifiers"]:
            for agg in json.loads((out / name / verifier / "seeds.json").read_text()):
                row = {"setting": name, "verifier": verifier, "iteration": agg["iteration"], **agg}
                if verifier == "generated" and "heldout" in spec["verifiers"]:
                    row["recovered"] = _recovery(out / name, spec["seeds"], agg["iteration"])
                rows.append(row)
    return rows


def _recovery(setting: Path, seeds: list[int], iteration: int) -> dict | None:
    per_seed = []
    for s in seeds:
        oracle = json.loads((seed_folder(setting / "heldout", s) / METRICS_FILE).read_text())
        gen = json.loads((seed_folder(setting / "generated", s) / METRICS_FILE).read_text())
        base = oracle[0]["eval"]
        measure = primary(base)
        r = recovered(rates(base, measure), rates(oracle[iteration]["eval"], measure),
                      rates(gen[iteration]["eval"], measure))
        per_seed.append(None if r is None else r.to_dict())
    known = [r["estimate"] for r in per_seed if r]
    mean, sd = mean_sd(known) if known else (None, None)
    return {"per_seed": per_seed, "mean": rounded(mean), "sd": rounded(sd)}


def markdown(rows: list[dict], spec: dict) -> str:
    lines = ["# Recipe sweep", "", f"Preset `{spec['preset']}`, options `{json.dumps(spec['options'])}`, "
             f"seeds {spec['seeds']}. Δ: paired difference to the base model (mean ± sd over seeds); "
             "recovered: share of the held-out mode's gain the generated mode recovers (per seed, 95% CI).", ""]
    for key, where in (("eval", "eval split"), ("eval_ood", "out-of-distribution set")):
        if not any(key in r for r in rows):
            continue
        lines += [f"## {where}", "", "| setting | verifier | iter | measure | Δ mean ± sd | verdicts | recovered |",
                  "|---|---|---|---|---|---|---|"]
        for r in rows:
            s = r.get(key)
            if not s:
                continue
            sd = "n/a" if s["diff_sd"] is None else f"{s['diff_sd']:.3f}"
            verdicts = ", ".join(f"{w} {n}" for w, n in sorted(s["verdicts"].items()))
            rec = "-"
            if key == "eval" and r.get("recovered"):
                rec = " ".join("n/a" if p is None else f"{p['estimate']:.2f} [{p['low']:.2f}, {p['high']:.2f}]"
                               for p in r["recovered"]["per_seed"])
            lines.append(f"| {r['setting']} | {r['verifier']} | {r['iteration']} | {s['measure']} | "
                         f"{s['diff_mean']:+.3f} ± {sd} | {verdicts} | {rec} |")
        lines.append("")
    return "\n".join(lines)
