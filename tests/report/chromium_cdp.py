"""A tiny Chrome DevTools Protocol driver for the installed Debian `chromium`, over
`--remote-debugging-pipe` (NUL-separated JSON on file descriptors 3 and 4): no WebSocket client,
no Python browser package, nothing downloaded. Enough to load a page, collect console errors and
uncaught exceptions, evaluate JavaScript and take a full-page screenshot."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--remote-debugging-pipe"]


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Page:
    """What a loaded page showed: problems the browser reported, and the session to ask more."""

    errors: list[str] = field(default_factory=list)
    """Console errors/assertions, uncaught exceptions and browser log errors (e.g. blocked loads)."""


class Chromium:
    """One headless browser; use as a context manager."""

    def __init__(self, width: int = 1280, height: int = 900, timeout_s: float = 180.0):
        """timeout_s: for any one answer or page load (generous: a loaded 2-core machine is slow)."""
        self.timeout_s = timeout_s
        self._profile = tempfile.mkdtemp(prefix="codeagent-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:  # in the child: the pipe ends at 3 (commands) and 4 (replies); close_fds
            # runs after this and keeps only pass_fds, which therefore names 3 and 4. Copies above 9
            # first, so that neither dup2 overwrites the other pipe end.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child_r, from_child_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        binary = chromium_binary()
        if binary is None:
            raise RuntimeError("chromium is not installed; `bash scripts/setup.sh` installs it")
        self._proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self._profile}",
                                       f"--window-size={width},{height}", "about:blank"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      pass_fds=(3, 4, to_child_r, from_child_w), preexec_fn=fds)
        os.close(to_child_r)
        os.close(from_child_w)
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._proc.stderr.read, daemon=True).start()  # never let it block
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=self.session)

    def _read(self) -> None:
        buf = b""
        with os.fdopen(self._from_child, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                buf += chunk
                *messages, buf = buf.split(b"\0")
                for raw in messages:
                    msg = json.loads(raw)
                    if "id" in msg:
                        with self._cond:
                            self._replies[msg["id"]] = msg
                            self._cond.notify_all()
                    else:
                        self._events.put(msg)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        with self._cond:
            self._next_id += 1
            mid = self._next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._replies, self.timeout_s):
                raise TimeoutError(f"chromium did not answer {method} within {self.timeout_s} s")
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url: str) -> Page:
        """Navigate to `url`, wait for its load event and a moment for scripts, collect problems."""
        page = Page()
        self.call("Page.navigate", {"url": url}, session=self.session)
        deadline = time.monotonic() + self.timeout_s
        loaded_at = None
        while time.monotonic() < deadline:
            wait = 0.5 if loaded_at is None else max(0.0, loaded_at + 0.5 - time.monotonic())
            try:
                event = self._events.get(timeout=wait)
            except queue.Empty:
                if loaded_at is not None:
                    return page
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Page.loadEventFired":
                loaded_at = time.monotonic()
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                page.errors.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                          for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                page.errors.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                page.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        raise TimeoutError(f"{url} did not finish loading within {self.timeout_s} s")

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=self.session)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression!r} threw: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
            params |= {"captureBeyondViewport": True,
                       "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}
        data = self.call("Page.captureScreenshot", params, session=self.session)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_child)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
