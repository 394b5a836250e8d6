"""`openai:MODEL`: a model behind any OpenAI-compatible chat-completions server.

(Named openai_compat so it does not shadow the `openai` package it uses.)
Requests run concurrently on a thread pool shared by every caller, so `concurrency` bounds the
load this process puts on the server. Transient failures (429, 5xx, timeouts, connection errors)
are retried with exponential backoff; anything else fails at once with a message saying why.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from .base import Completion, ContextLengthError, Message, ModelError, SamplingParams
from .stop import cut_at_stop

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_BACKOFF_S = 30.0


class OpenAIModel:
    """MODEL on an OpenAI-compatible server. Thread-safe."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 8, max_retries: int = 5, backoff: float = 0.5, timeout: float = 120.0):
        """
        model: the model name the server knows.
        base_url: server root ending in /v1 (default: $OPENAI_BASE_URL, else api.openai.com).
        api_key: bearer key (default: $OPENAI_API_KEY; local servers usually accept anything).
        concurrency: most requests in flight at once, across all callers.
        max_retries: retries of a transient failure before giving up (0 = try once).
        backoff: first retry delay in seconds; doubles each retry (capped at 30 s).
        timeout: seconds per request.
        """
        import openai

        if concurrency < 1:
            raise ModelError(f"openai: concurrency must be at least 1, got {concurrency}")
        if max_retries < 0:
            raise ModelError(f"openai: max_retries must be >= 0, got {max_retries}")
        self.spec = f"openai:{model}"
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.max_retries = max_retries
        self.backoff = backoff
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        # The client's own retries are off: ours are bounded, logged in the error, and testable.
        self._client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=timeout)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="codeagent-openai")

    def generate(self, conversations: Sequence[Sequence[Message]],
                 params: SamplingParams = SamplingParams()) -> list[list[Completion]]:
        if params.n < 1:
            raise ModelError(f"SamplingParams.n must be at least 1, got {params.n}")
        futures = [self._pool.submit(self._samples, list(conv), params) for conv in conversations]
        return [f.result() for f in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _samples(self, conversation: list[Message], params: SamplingParams) -> list[Completion]:
        """`params.n` completions, topping up with more requests if the server ignores `n`."""
        out: list[Completion] = []
        while len(out) < params.n:
            got = self._request(conversation, params, params.n - len(out))
            if not got:
                raise ModelError(f"server at {self.base_url} returned no choices for model {self.model!r}")
            out.extend(got)
        return out[:params.n]

    def _request(self, conversation: list[Message], params: SamplingParams, n: int) -> list[Completion]:
        body = dict(model=self.model, messages=conversation, n=n, temperature=params.temperature,
                    top_p=params.top_p, max_tokens=params.max_tokens)
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        response = self._with_retries(lambda: self._client.chat.completions.create(**body))
        usage = response.usage
        prompt = usage.prompt_tokens if usage else 0
        total = usage.completion_tokens if usage else 0
        choices = response.choices or []
        completions = []
        for i, choice in enumerate(choices):
            # usage covers all choices together; share it out (exact when n == 1)
            share = total // len(choices) + (1 if i < total % len(choices) else 0)
            # stop strings are applied here too: some servers ignore them
            completions.append(Completion(text=cut_at_stop(choice.message.content or "", params.stop),
                                          prompt_tokens=prompt, completion_tokens=share,
                                          finish_reason="length" if choice.finish_reason == "length" else "stop"))
        return completions

    def _with_retries(self, call):
        import openai

        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(MAX_BACKOFF_S, self.backoff * 2 ** (attempt - 1))
                time.sleep(delay * (1 + random.random() / 4))
            try:
                return call()
            except openai.AuthenticationError as e:
                raise ModelError(f"server at {self.base_url} rejected the API key (401); set OPENAI_API_KEY "
                                 "or pass api_key") from e
            except openai.NotFoundError as e:
                raise ModelError(f"server at {self.base_url} has no model {self.model!r} or no "
                                 f"/chat/completions endpoint (404): {_detail(e)}") from e
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as e:
                last = e  # APITimeoutError is an APIConnectionError
            except openai.APIStatusError as e:
                if e.status_code in (408, 409) or e.status_code >= 500:
                    last = e
                elif e.status_code == 400 and _context_too_long(e):
                    raise ContextLengthError(f"{self.model}: the conversation does not fit the model's context: "
                                             f"{_detail(e)}") from e
                else:
                    raise ModelError(f"server at {self.base_url} refused the request ({e.status_code}): "
                                     f"{_detail(e)}") from e
        tries = self.max_retries + 1
        if isinstance(last, openai.APIConnectionError):
            what = "timed out" if isinstance(last, openai.APITimeoutError) else "is unreachable"
            raise ModelError(f"OpenAI-compatible server at {self.base_url} {what} after {tries} tries; "
                             "check that it is running and the base_url / OPENAI_BASE_URL") from last
        status = getattr(last, "status_code", "?")
        raise ModelError(f"server at {self.base_url} kept failing ({status}) after {tries} tries: "
                         f"{_detail(last)}") from last


def _context_too_long(e) -> bool:
    """Does this 400 say the prompt (plus max_tokens) exceeds the context window? OpenAI sends the
    code `context_length_exceeded`; vLLM's message says "maximum context length"."""
    code = getattr(e, "code", None)  # the openai client lifts it out of the body's "error" object
    message = (getattr(e, "message", None) or str(e)).lower()
    return code == "context_length_exceeded" or "maximum context length" in message


def _detail(e) -> str:
    message = getattr(e, "message", None) or str(e)
    return message[:300]
