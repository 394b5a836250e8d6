"""Turn the harness's user-facing errors into one clear line and exit status 1 (no traceback)."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def report_errors():
    from codeagent.errors import UserError
    try:
        yield
    except UserError as e:
        print(f"codeagent: error: {e}", file=sys.stderr)
        raise SystemExit(1)
    except KeyboardInterrupt:
        print("codeagent: interrupted; what was written so far is kept (rerun to resume)", file=sys.stderr)
        raise SystemExit(130)
