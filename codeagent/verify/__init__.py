"""Verifiers: decide which attempts of a run succeeded, and measure how far the cheap verifier
(model-generated tests + dual execution agreement) is from the held-out tests.

`verify_run` (stage.py) is the stage; `codeagent verify` calls it. The registry maps a verifier's
name to its class, imported lazily; `accepts` is the one rule for whether a verdict counts an
attempt as a success, which export, the gap report and the improve loop all ask. Adding a
verifier is one file (a class following `base.Verifier`) and one line here.
"""

from __future__ import annotations

import importlib

from codeagent.errors import unknown_name

from .record import GeneratedVerdict, HackFlag, HeldoutVerdict, Verdict

VERIFIERS: dict[str, object] = {
    "heldout": "codeagent.verify.heldout:HeldoutVerifier",
    "generated": "codeagent.verify.generated:GeneratedVerifier",
}
"""name -> "module:Class" (or the class itself, e.g. one defined by a test)."""

REFERENCE = "heldout"
"""The verifier taken as ground truth when measuring the others (it uses the held-out tests)."""


def verifier_class(name: str):
    """The verifier class registered as `name` (unknown names fail with the known ones)."""
    if name not in VERIFIERS:
        raise unknown_name("verifier", name, VERIFIERS)
    ref = VERIFIERS[name]
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def accepts(verdict: Verdict | None, verifier: str) -> bool:
    """Does `verifier` count this attempt as a success? Never when the attempt is hack-flagged or
    the verifier has not judged it."""
    if verdict is None or verdict.hack_flags:
        return False
    part = verdict.part(verifier)
    return part is not None and verifier_class(verifier).accepts(part)


def verify_run(*args, **kwargs):
    """See `codeagent.verify.stage.verify_run`."""
    from .stage import verify_run as _verify_run
    return _verify_run(*args, **kwargs)


__all__ = ["REFERENCE", "VERIFIERS", "GeneratedVerdict", "HackFlag", "HeldoutVerdict", "Verdict", "accepts",
           "verifier_class", "verify_run"]
