"""The page of one run folder: a filterable table of attempts, and per attempt the conversation,
the patch as a coloured diff, the generated tests with which of them it passed, and the held-out
per-test outcomes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from codeagent.trajectory import Attempt
from codeagent.verify.record import Verdict

from .html import Html, badge, cards, esc, fmt, join, page, pre, section, table, tag
from .runfolder import RunView, part, read_run

OUTCOME_KIND = {"passed": "ok", "failed": "bad", "error": "bad", "timeout": "warn", "skipped": "muted"}


def render(run_dir: Path) -> str:
    run = read_run(run_dir)
    c = run.config
    title = f"run {c.get('run_id') or run.path.name}"
    subtitle = (f"{c.get('model')} · {c.get('agent')} agent · task set {c.get('task_set')} "
                f"({c.get('split') or 'all'} split) · {run.path}")
    return page(title, subtitle, _summary(run), _attempts(run), section("Config", pre(_json(c))))


# -- summary -----------------------------------------------------------------------------------
def _summary(run: RunView) -> Html:
    verdicts = [run.verdicts.get(a.attempt_id) for a in run.attempts]
    held = [part(v, "heldout") for v in verdicts]
    gen = [part(v, "generated") for v in verdicts]
    solved_tasks = {a.task_id for a, h, v in zip(run.attempts, held, verdicts) if h and h.passed and not v.hack_flags}
    items = [("attempts", len(run.attempts)), ("tasks", len({a.task_id for a in run.attempts})),
             ("verified", sum(v is not None for v in verdicts))]
    if any(held):
        items += [("held-out pass (attempts)", f"{sum(bool(h and h.passed) for h in held)}/{sum(h is not None for h in held)}"),
                  ("tasks solved (held-out, no hack flag)", len(solved_tasks))]
    if any(gen):
        items.append(("accepted by generated tests", f"{sum(bool(g and g.accepted) for g in gen)}/{sum(g is not None for g in gen)}"))
    items.append(("hack-flagged", sum(bool(v and v.hack_flags) for v in verdicts)))
    gap = (run.gap or {}).get("verifiers", {}).get("generated")
    if gap:
        items += [("generated precision", fmt(gap.get("precision"))), ("generated recall", fmt(gap.get("recall")))]
    items.append(("completion tokens", sum(a.completion_tokens for a in run.attempts)))
    return section("Summary", cards(items))


# -- the table of attempts ---------------------------------------------------------------------
HEAD = ["task", "sample", "held-out", "generated", "hack flags", "failure kind", "tokens (prompt/completion)", ""]


def _attempts(run: RunView) -> Html:
    rows, row_attrs, kinds = [], [], Counter()
    attempts = sorted(run.attempts, key=lambda a: (a.task_id, a.sample_index))
    for i, a in enumerate(attempts):
        v = run.verdicts.get(a.attempt_id)
        h, g = part(v, "heldout"), part(v, "generated")
        kind = _failure_kind(a, v)
        kinds[kind] += 1
        detail = f"detail-{i}"
        rows.append([a.task_id, Html(f'<span class="num">{a.sample_index}</span>'), _heldout_cell(h), _generated_cell(g),
                     Html(" ".join(badge(f.hack_kind, "bad") for f in v.hack_flags)) if v and v.hack_flags else "",
                     kind, f"{a.prompt_tokens}/{a.completion_tokens}",
                     tag("button", "show", type="button", data_toggle=detail)])
        row_attrs.append({"data-attempt": a.attempt_id, "data-detail": detail, "data-task": a.task_id,
                          "data-heldout": "none" if h is None else ("passed" if h.passed else "failed"),
                          "data-generated": "none" if g is None else ("accepted" if g.accepted else "rejected"),
                          "data-hack": "flagged" if v and v.hack_flags else "clean", "data-kind": kind})
    # Each attempt's detail row goes right under its row (hidden until "show").
    body = table(HEAD, rows, row_attrs=row_attrs, id="attempts",
                 after=[_detail(run, a, f"detail-{i}") for i, a in enumerate(attempts)])
    return section("Attempts", _filters(kinds), body,
                   note="Every value below comes from the run folder; model output is shown as text.")


def _filters(kinds: Counter) -> Html:
    def select(name: str, label: str, options: list[str]) -> Html:
        opts = join([tag("option", "all", value="")] + [tag("option", o, value=o) for o in options])
        return tag("label", join([label + " ", tag("select", opts, data_filter=name, id=f"filter-{name}")]))
    return tag("div", join([
        tag("label", join(["task ", Html('<input type="search" data-filter="task" id="filter-task" '
                                         'placeholder="substring of the task id">')])),
        select("heldout", "held-out", ["passed", "failed", "none"]),
        select("generated", "generated", ["accepted", "rejected", "none"]),
        select("hack", "hack flags", ["flagged", "clean"]),
        select("kind", "failure kind", sorted(kinds)),
        Html('<span>shown: <b id="shown-count"></b></span>')]), class_="filters")


def _failure_kind(a: Attempt, v: Verdict | None) -> str:
    h = part(v, "heldout")
    if a.exit_status != "submitted":
        return a.exit_status
    if v is not None and v.timings.get("patch_error"):
        return "patch-did-not-apply" if a.patch.strip() else "empty-patch"
    if h is None:
        return "not verified"
    return "-" if h.passed else (h.failure_kind or "failed")


def _heldout_cell(h) -> Html:
    if h is None:
        return badge("not run", "muted")
    return badge(f"{'pass' if h.passed else 'fail'} {h.n_pass}/{h.n_total}", "ok" if h.passed else "bad")


def _generated_cell(g) -> Html:
    if g is None:
        return badge("not run", "muted")
    return badge(f"{'accepted' if g.accepted else 'rejected'} {g.tests_passed}/{g.n_tests}", "ok" if g.accepted else "muted")


# -- one attempt -------------------------------------------------------------------------------
def _detail(run: RunView, a: Attempt, detail_id: str) -> Html:
    v = run.verdicts.get(a.attempt_id)
    left = join([tag("h3", "Conversation"), _conversation(a),
                 *([tag("h3", "Error"), pre(a.error)] if a.error else [])])
    right = join([tag("h3", "Patch"), _diff(a.patch),
                  *([tag("h3", "Hack flags"), table(["kind", "detail"], [[f.hack_kind, f.detail] for f in v.hack_flags])]
                    if v and v.hack_flags else []),
                  tag("h3", "Held-out tests"), _heldout_tests(part(v, "heldout")),
                  tag("h3", "Generated tests"), _generated_tests(run.generated_tests.get(a.task_id), part(v, "generated"))])
    body = tag("div", join([tag("div", left), tag("div", right)]), class_="cols")
    return Html(f'<tr class="detail" id="{esc(detail_id)}" hidden><td colspan="{len(HEAD)}">'
                f'{tag("b", a.attempt_id)} · exit {esc(a.exit_status)} · {esc(a.model)}{body}</td></tr>')


def _conversation(a: Attempt) -> Html:
    parts = [tag("div", join([tag("div", m.get("role", "?"), class_="role"), pre(m.get("content", ""))]), class_="msg")
             for m in a.messages]
    for k, s in enumerate(a.steps):
        parts.append(tag("div", join([tag("div", f"step {k}: action (exit {s.exit_code})", class_="role"), pre(s.action),
                                      tag("div", "observation", class_="role"), pre(s.observation)]), class_="msg"))
    return join(parts) if parts else tag("p", "no messages recorded", class_="note")


def _diff(patch: str) -> Html:
    if not patch.strip():
        return tag("p", "empty patch", class_="note")
    lines = []
    for line in patch.splitlines():
        cls = ("meta" if line.startswith(("+++", "---", "diff ", "index ")) else "add" if line.startswith("+")
               else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else None)
        lines.append(tag("span", line, class_=cls) if cls else esc(line) + "\n")
    return tag("pre", join(lines), class_="diff")


def _heldout_tests(h) -> Html:
    if h is None:
        return tag("p", "not run", class_="note")
    rows = [[name, badge(outcome, OUTCOME_KIND.get(outcome, "warn"))] for name, outcome in h.per_test.items()]
    head = tag("p", f"{h.n_pass}/{h.n_total} passed" + (f" · failure kind: {h.failure_kind}" if h.failure_kind else ""))
    return join([head, table(["test", "outcome"], rows)]) if rows else head


def _generated_tests(tests, g) -> Html:
    if tests is None or g is None:
        return tag("p", "not run", class_="note")
    head = tag("p", f"{g.tests_passed}/{g.n_tests} passed · {'accepted' if g.accepted else 'not accepted'} "
                    f"(agreement cluster of {g.cluster_size}, score {g.cluster_score:g})")
    if not tests.tests:
        return join([head, tag("p", "the model wrote no usable test for this task", class_="note")])
    items = []
    for src in tests.tests:
        name = src.split("(", 1)[0].removeprefix("def ").strip()
        outcome = g.per_test.get(name) if g.per_test else None
        label = badge(outcome, OUTCOME_KIND.get(outcome, "warn")) if outcome else badge("not recorded", "muted")
        items.append(join([tag("div", join([label, " ", tag("code", name)])), pre(src)]))
    return join([head, *items])


def _json(d: dict) -> str:
    import json
    return json.dumps(d, indent=2, default=str)
