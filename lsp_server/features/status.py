"""``gemma/status``: what the server runs and whether it is working, for the editors' status bars.

Request ``gemma/status`` (params ``{}``: pygls refuses a request without params) answers::

    {"model", "loaded", "backend", "gpu_layers", "n_ctx", "context_tokens_last", "prompt_tokens_last", "busy", "running"}

``backend`` is ``"gpu"``, ``"cpu"`` or ``"remote"``; ``gpu_layers`` -1 means all layers.
``context_tokens_last`` is the workspace context packed into the last prompt (an estimate: the
manifest's included items; null before the first request); ``prompt_tokens_last`` is the whole
last prompt as the model counted it (null until a model has read one). Editors show the second
when they have it, named "prompt": the explanation document gives that same count. The request is cheap: it never loads the model
(before the first model request it reports the settings, with ``loaded`` false) and never waits
for the model's worker, so an editor may ask whenever it redraws.
"""

from __future__ import annotations

from pathlib import Path

from lsp_server.config import Settings
from lsp_server.features.server_api import Server
from lsp_server.model.backend import ModelInfo

STATUS_REQUEST = "gemma/status"


def describe(settings: Settings, info: ModelInfo | None, context_tokens_last: int | None, running: int, gpu_supported: bool,
             prompt_tokens: int | None = None) -> dict:
    """The status as plain JSON. ``info`` is None until the model is loaded; ``running`` counts
    the model requests in flight."""
    model = settings.model
    if settings.backend == "openai":
        backend, gpu_layers = "remote", 0
        name = info.name if info else (settings.remote.model or settings.remote.url)
    else:
        gpu_layers = info.n_gpu_layers if info else (model.n_gpu_layers if gpu_supported else 0)
        on_gpu = (info.gpu_offload_supported if info else gpu_supported) and gpu_layers != 0
        backend = "gpu" if on_gpu else "cpu"
        name = info.name if info else (Path(model.path).name if model.path else "bundled model")
    return {
        "model": name,
        "loaded": info is not None,
        "backend": backend,
        "gpu_layers": gpu_layers,
        "n_ctx": info.n_ctx if info else model.n_ctx,
        "context_tokens_last": context_tokens_last,
        "prompt_tokens_last": prompt_tokens,
        "busy": running > 0,
        "running": running,
    }


def context_tokens(manifest: list[dict]) -> int:
    """The estimated tokens of the manifest's items that made it into the prompt."""
    return sum(int(entry.get("tokens") or 0) for entry in manifest if entry.get("included"))


def status(ls: Server) -> dict:
    """The handler's body: reads the server's state, loads nothing."""
    assistant = ls.assistant
    info = assistant.backend.load() if assistant.model_loaded else None  # loaded: returns at once
    gpu = _gpu_supported(assistant.settings)
    return describe(assistant.settings, info, ls.last_context_tokens, ls.running_requests(), gpu, ls.last_prompt_tokens)


def _gpu_supported(settings: Settings) -> bool:
    if settings.backend == "openai":
        return False
    from lsp_server.model.llama_backend import gpu_offload_supported

    try:
        return gpu_offload_supported()
    except ImportError:  # llama-cpp-python missing: the first model request says what to install
        return False
