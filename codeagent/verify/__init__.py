"""Verifiers: decide which attempts of a run succeeded, and measure how far the cheap verifier
(model-generated tests + dual execution agreement) is from the held-out tests.

`verify_run` (stage.py) is the stage; `codeagent verify` calls it. The verifier registry maps a
name to its class, imported lazily.
"""

from __future__ import annotations

import importlib

from codeagent.errors import unknown_name

from .record import (GAP_REPORT_FILE, GENERATED_TESTS_FILE, TRAJECTORIES_FILE, VERDICTS_FILE, GeneratedVerdict,
                     HackFlag, HeldoutVerdict, Verdict)

VERIFIERS: dict[str, str] = {
    "heldout": "codeagent.verify.heldout:HeldoutVerifier",
    "generated": "codeagent.verify.generated:GeneratedVerifier",
}


def verifier_class(name: str):
    """The verifier class registered as `name` (unknown names fail with the known ones)."""
    if name not in VERIFIERS:
        raise unknown_name("verifier", name, VERIFIERS)
    module, _, attr = VERIFIERS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def verify_run(*args, **kwargs):
    """See `codeagent.verify.stage.verify_run`."""
    from .stage import verify_run as _verify_run
    return _verify_run(*args, **kwargs)


__all__ = ["GAP_REPORT_FILE", "GENERATED_TESTS_FILE", "TRAJECTORIES_FILE", "VERDICTS_FILE", "VERIFIERS",
           "GeneratedVerdict", "HackFlag", "HeldoutVerdict", "Verdict", "verifier_class", "verify_run"]
