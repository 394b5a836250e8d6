"""`vllm:NAME_OR_PATH`: a local model served by vLLM, the field's inference engine.

NAME is an embedded model (its converted HF folder is served) and PATH any local transformers
folder, a trained checkpoint included. codeagent starts the server itself (see `vllm_server`)
and talks to it through the `openai` backend, so local and remote servers share one client path:
seeds, `n`, stop strings and the model's own chat template behave as with any OpenAI server.
The server is stopped by `close()`, on exit and on Ctrl-C; its log goes to `log_dir`
(the run folder when `codeagent run` loads it).

Models loaded for the same folder with the same server settings share one server (counted
references; the last `close()` stops it): start-up costs a minute or more on CPU, so a caller that
runs several stages on one model (the improve loop: run, generated tests, eval) keeps one model
open around them and every stage's own `load_model` finds that server already up.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Sequence

from codeagent.runfolder import SERVER_LOG_FILE as LOG_FILE  # the run folder's owner names its files

from .base import Completion, Message, ModelError, SamplingParams
from .vllm_server import ServerConfig, VLLMServer


_lock = threading.Lock()
_shared: dict[tuple[Path, str, str], list] = {}  # (folder, name, config) -> [server, references]


def resolve_folder(name_or_path: str) -> Path:
    """The HF folder that `vllm:NAME_OR_PATH` serves."""
    from . import EMBEDDED, embedded_folder

    if name_or_path in EMBEDDED:
        return embedded_folder(name_or_path)
    folder = Path(name_or_path).expanduser()
    if not (folder / "config.json").is_file():
        raise ModelError(f"vllm:{name_or_path}: neither an embedded model ({', '.join(EMBEDDED)}) nor a "
                         "transformers model folder (no config.json there)")
    return folder.resolve()


class VLLMModel:
    """A vLLM server started for one model, used through `OpenAIModel`. Thread-safe."""

    def __init__(self, name_or_path: str, *, log_dir: str | Path | None = None, concurrency: int = 64,
                 timeout: float = 900.0, config: ServerConfig | None = None, **server_options):
        """
        name_or_path: an embedded model name or a local HF folder.
        log_dir: folder for the server's log, `vllm-server.log` (default: a new temporary folder).
        concurrency: most requests in flight at once (vLLM batches them on its side).
        timeout: seconds per request (a request waits while the server decodes other sequences).
        config / server_options: a `ServerConfig`, or its fields by name (max_model_len, cpus, ...).
        """
        self.spec = f"vllm:{name_or_path}"
        folder = resolve_folder(name_or_path)
        try:
            config = config or ServerConfig(**server_options)
        except TypeError as e:
            raise ModelError(f"{self.spec}: {e}; known options: {', '.join(ServerConfig.__dataclass_fields__)}") from e
        self._key = (folder, name_or_path, repr(config))
        with _lock:
            entry = _shared.get(self._key)
            if entry is None or not entry[0].alive():
                log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="codeagent-vllm-"))
                entry = _shared[self._key] = [VLLMServer(folder, name_or_path, log_dir / LOG_FILE, config), 0]
                try:
                    entry[0].start()
                except BaseException:
                    del _shared[self._key]
                    raise
            entry[1] += 1
        self.server = entry[0]
        from .openai_compat import OpenAIModel
        # One retry only: a local server that fails twice has crashed, and that is said at once.
        self.client = OpenAIModel(name_or_path, base_url=self.server.base_url, api_key="EMPTY",
                                  concurrency=concurrency, max_retries=1, backoff=0.5, timeout=timeout)

    @property
    def log_file(self) -> Path:
        return self.server.log_file

    def generate(self, conversations: Sequence[Sequence[Message]],
                 params: SamplingParams = SamplingParams()) -> list[list[Completion]]:
        if not self.server.alive():
            raise ModelError(self.server.died())
        try:
            return self.client.generate(conversations, params)
        except ModelError as e:
            if not self.server.alive():
                raise ModelError(self.server.died()) from e
            raise

    def close(self) -> None:
        """Release this model; the server stops when no other model shares it. Idempotent."""
        if self.client is None:
            return
        self.client.close()
        self.client = None
        with _lock:
            entry = _shared.get(self._key)
            if entry is not None and entry[0] is self.server:
                entry[1] -= 1
                if entry[1] > 0:
                    return
                del _shared[self._key]
        self.server.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
