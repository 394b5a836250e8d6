"""A small real OpenAI-compatible HTTP server for tests: POST /v1/chat/completions.

Replies are deterministic: choice i of a request answers "echo[i]: <last user message>", cut at
the first stop string the client sent, and `usage` counts whitespace-separated words. Knobs make
it fail the first K requests (500 or 429), demand an API key (401 otherwise), ignore `n`, or
refuse prompts past a context window (400).
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Knobs:
    fail_first: int = 0
    """The first this-many requests answer `fail_status` instead."""
    fail_status: int = 500
    api_key: str | None = None
    """When set, requests without `Authorization: Bearer <api_key>` get 401."""
    ignore_n: bool = False
    """Answer one choice whatever `n` asks (like some servers do)."""
    context_words: int | None = None
    """When set, a request whose prompt words + max_tokens exceed it gets OpenAI's 400
    `context_length_exceeded`."""
    requests: list[dict] = field(default_factory=list)
    """Every request body received, in order."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def reply_text(body: dict, index: int) -> str:
    last_user = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
    return f"echo[{index}]: {last_user}"


class _Handler(BaseHTTPRequestHandler):
    knobs: Knobs  # set on a per-server subclass

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        knobs = self.knobs
        with knobs.lock:
            knobs.requests.append(body)
            failing = len(knobs.requests) <= knobs.fail_first
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
        if knobs.api_key is not None and self.headers.get("Authorization") != f"Bearer {knobs.api_key}":
            return self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_api_key"}})
        if failing:
            return self._send(knobs.fail_status, {"error": {"message": f"injected failure {knobs.fail_status}",
                                                            "type": "server_error"}})
        prompt_words = sum(len(m["content"].split()) for m in body["messages"])
        if knobs.context_words is not None and prompt_words + int(body.get("max_tokens") or 0) > knobs.context_words:
            return self._send(400, {"error": {
                "message": f"This model's maximum context length is {knobs.context_words} tokens. However, you "
                           f"requested {prompt_words + int(body.get('max_tokens') or 0)} tokens. Please reduce "
                           "the length of the messages.",
                "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
        n = 1 if knobs.ignore_n else int(body.get("n") or 1)
        stops = body.get("stop") or []
        stops = [stops] if isinstance(stops, str) else stops
        max_words = int(body.get("max_tokens") or 10_000)
        choices, completion_words = [], 0
        for i in range(n):
            text, finish = reply_text(body, i), "stop"
            found = [text.find(s) for s in stops if s in text]
            if found:
                text = text[:min(found)]
            words = text.split()
            if len(words) > max_words:
                text, finish = " ".join(words[:max_words]), "length"
            completion_words += len(text.split())
            choices.append({"index": i, "finish_reason": finish,
                            "message": {"role": "assistant", "content": text}})
        self._send(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                         "model": body.get("model", ""), "choices": choices,
                         "usage": {"prompt_tokens": prompt_words, "completion_tokens": completion_words,
                                   "total_tokens": prompt_words + completion_words}})


@contextmanager
def fake_openai_server(**knobs):
    """Yield (base_url, Knobs) of a server on 127.0.0.1 with a free port; stops on exit."""
    state = Knobs(**knobs)
    handler = type("Handler", (_Handler,), {"knobs": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
