"""Self-play bugs: the model's reply read, spliced and screened (here), then validated like the
procedural ones in real Docker sandboxes with the library's own pytest suite (the slow test)."""

from __future__ import annotations

import json
import textwrap

import pytest

from codeagent.errors import UserError
from codeagent.models import load_model
from codeagent.repos.selfplay import (SELF_PLAY, ReplyJournal, SelfPlayConfig, bug_from_reply, pick_targets,
                                      self_play_candidates)
from codeagent.repos.sources import load_source, pristine
from codeagent.repos.synthesize import Journal, check_strategies, synthesize
from codeagent.tasks import load_tasks

from repo_fixtures import CODE

CORE = "tinylib/core.py"


def _target(files, name):
    return next(t for t in pick_targets(files, 0, None) if t.function == name)


def _fenced(code: str) -> str:
    return f"Here is the changed function:\n```python\n{code}```\n"


def test_a_reply_becomes_a_candidate_in_place_without_the_models_comments():
    t = _target(CODE, "clamp")
    bug = textwrap.dedent(t.before).replace("    if x > hi:\n", "    if x >= hi:  # the bug is here\n")
    c = bug_from_reply("tinylib", t, _fenced(bug))
    assert c.strategy == SELF_PLAY and c.function == "clamp" and c.before == t.before
    assert "if x >= hi:\n" in c.after and "#" not in c.after
    assert c.apply(CODE)[CORE] == CODE[CORE].replace("if x > hi:", "if x >= hi:")


def test_the_original_docstring_stays_whatever_the_model_wrote_there():
    t = _target(CODE, "clamp")
    rewritten = textwrap.dedent(t.before).replace('"""x limited to [lo, hi]."""', '"""x limited to [lo, hi).\n\n    '
                                                  'Values at hi give lo.\n    """').replace("return hi", "return lo")
    c = bug_from_reply("tinylib", t, _fenced(rewritten))
    assert '"""x limited to [lo, hi]."""' in c.after and "Values at hi" not in c.after
    assert c.apply(CODE)[CORE] == CODE[CORE].replace("        return hi\n", "        return lo\n")
    docs_only = textwrap.dedent(t.before).replace("[lo, hi]", "the closed range lo..hi")
    assert bug_from_reply("tinylib", t, _fenced(docs_only)) == "unchanged"


def test_a_method_keeps_its_indentation_and_decorators():
    files = {"m.py": '''class Box:
    @property
    def size(self):
        """How many."""
        n = 0
        for x in self.items:
            n += 1
        # counted
        return n
'''}
    t = _target(files, "Box.size")
    # Small models re-indent with two spaces and forget decorators; the docstring comes back too.
    reply = "def size(self):\n  n = 0\n  for x in self.items:\n    n += 2\n  # counted\n  return n\n"
    c = bug_from_reply("m", t, _fenced(reply))
    assert c.after.startswith('    @property\n    def size(self):\n')
    new = c.apply(files)["m.py"]
    exec(compile(new, "m.py", "exec"), ns := {})
    box = ns["Box"]()
    box.items = [1, 2]
    assert box.size == 4  # still a property, and now wrong
    assert '"""How many."""' in new and "# counted" in new


@pytest.mark.parametrize("reply, reason", [
    ("I would rather not.", "no-code"),
    (_fenced("def something_else(x):\n    return x\n"), "no-function"),
    (_fenced("def clamp(x, lo, hi):\n    if x < lo\n        return lo\n"), "syntax-error"),
])
def test_replies_without_a_usable_function_are_dropped_before_any_sandbox(reply, reason):
    assert bug_from_reply("tinylib", _target(CODE, "clamp"), reply) == reason


def test_layout_and_comment_changes_are_not_bugs():
    t = _target(CODE, "clamp")
    code = textwrap.dedent(t.before)
    two_spaces = code.replace("    ", "  ")
    commented = code.replace("    return x\n", "    return (x)  # unchanged, really\n")
    assert bug_from_reply("tinylib", t, _fenced(two_spaces)) == "unchanged"
    assert bug_from_reply("tinylib", t, _fenced(commented)) == "unchanged"
    assert bug_from_reply("tinylib", t, _fenced(code)) == "unchanged"


def _rules_file(tmp_path, rules: list[dict]) -> str:
    path = tmp_path / "selfplay_script.json"
    path.write_text(json.dumps({"rules": rules}))
    return f"scripted:{path}"


def test_candidates_are_deterministic_and_the_replies_journal_resumes(tmp_path):
    clamp = textwrap.dedent(_target(CODE, "clamp").before)
    spec = _rules_file(tmp_path, [
        {"match": "function `clamp`", "reply": _fenced(clamp.replace("return hi", "return lo"))},
        {"match": "function `window_sums`", "reply": "no"},
    ])
    model = load_model(spec)
    first = self_play_candidates("tinylib", CODE, model, 0, ReplyJournal(tmp_path / "a.jsonl"))
    again = self_play_candidates("tinylib", CODE, model, 0, ReplyJournal(tmp_path / "b.jsonl"))
    assert [c.id for c in first.candidates] == [c.id for c in again.candidates] and len(first.candidates) == 1
    assert first.replies == {"asked": 2, "candidate": 1, "no-code": 1}
    asked = model.calls
    resumed = self_play_candidates("tinylib", CODE, model, 0, ReplyJournal(tmp_path / "a.jsonl"))
    assert model.calls == asked and [c.id for c in resumed.candidates] == [c.id for c in first.candidates]
    batches = []

    class Counted:  # the scripted model, recording how many functions each call asks about
        spec = model.spec

        def generate(self, conversations, params):
            batches.append(len(conversations))
            return model.generate(conversations, params)

    self_play_candidates("tinylib", CODE, Counted(), 0, ReplyJournal(tmp_path / "c.jsonl"))
    one_each = self_play_candidates("tinylib", CODE, Counted(), 0, ReplyJournal(tmp_path / "d.jsonl"),
                                    SelfPlayConfig(batch=1))
    assert batches == [2, 1, 1] and [c.id for c in one_each.candidates] == [c.id for c in first.candidates]
    with pytest.raises(UserError, match="batch must be at least 1"):
        self_play_candidates("tinylib", CODE, model, 0, ReplyJournal(tmp_path / "e.jsonl"), SelfPlayConfig(batch=0))


def test_self_play_needs_a_model_and_a_model_needs_self_play():
    assert check_strategies(None, "smollm2-135m") == [SELF_PLAY]
    assert check_strategies(["flip_comparison", SELF_PLAY], "m") == ["flip_comparison", SELF_PLAY]
    with pytest.raises(UserError, match="needs a model"):
        check_strategies([SELF_PLAY], None)
    with pytest.raises(UserError, match="only used by the self_play"):
        check_strategies(["flip_comparison"], "smollm2-135m")
    with pytest.raises(UserError, match="unknown strategy 'self-play'.*self_play"):
        check_strategies(["self-play"], "m")


@pytest.mark.docker
@pytest.mark.slow
def test_self_play_on_inflection_keeps_a_real_bug_and_rejects_noop_and_breaking_replies(tmp_path):
    """Seven substantive functions of inflection, one scripted reply each: one subtle bug (kept),
    one that behaves the same (no FAIL_TO_PASS), one that breaks every test that sees it (no
    PASS_TO_PASS), and four the screening drops before any sandbox."""
    code = pristine(load_source("inflection")).code
    fn = {t.function: textwrap.dedent(t.before) for t in pick_targets(code, 0, None)}
    ordinal_bug = fn["ordinal"].replace("in (11, 12, 13):", "in (11, 12):  # subtle")
    breaks = fn["parameterize"].replace("    string = transliterate(string)\n",
                                        "    raise RuntimeError('broken')\n    string = transliterate(string)\n")
    same = fn["humanize"].replace("    return word\n", "    return str(word)\n")
    spec = _rules_file(tmp_path, [
        {"match": "function `ordinal`", "reply": _fenced(ordinal_bug)},
        {"match": "function `parameterize`", "reply": _fenced(breaks)},
        {"match": "function `humanize`", "reply": _fenced(same)},
        {"match": "function `underscore`", "reply": _fenced(fn["underscore"].replace("    ", "  "))},
        {"match": "function `pluralize`", "reply": _fenced("def pluralize(word:\n    return word\n")},
        {"match": "Here is the function", "reply": "Sorry, I cannot help with that."},
    ])
    out = tmp_path / "selfplay_set"
    (stats,) = synthesize(["inflection"], out, [SELF_PLAY], seed=0, backend="docker", workers=1,
                          progress=False, model=spec)
    assert stats.replies == {"asked": 7, "candidate": 3, "unchanged": 1, "syntax-error": 1, "no-code": 2}
    assert stats.candidates == {SELF_PLAY: 3} and stats.kept == {SELF_PLAY: 1}
    reasons = {o.id.split("__")[1]: o.reason for o in Journal(out / ".synth" / "inflection.jsonl").done.values()}
    assert reasons == {"ordinal": "kept", "humanize": "no-fail-to-pass", "parameterize": "no-pass-to-pass"}
    (task,) = load_tasks(str(out))
    assert task.metadata["strategy"] == SELF_PLAY and task.metadata["bug_model"] == spec
    assert task.metadata["function"] == "ordinal" and task.fail_to_pass and task.pass_to_pass
    assert "subtle" not in task.repo_files["inflection/__init__.py"]
    assert "in (11, 12):" in task.repo_files["inflection/__init__.py"]
