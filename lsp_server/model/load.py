"""Loading a GGUF without surprises: a model that cannot fit is refused up front, and a GPU that
runs out of memory gets fewer layers instead of a failed load.

llama.cpp reports a GPU out-of-memory at load as the same generic error as any other load
failure ("Failed to load model from file", "Failed to create llama_context"), so every failure
with layers on the GPU is retried with half as many, down to none; the user is told which count
worked, so the next start can skip the retries. Never imports pygls.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, TypeVar

from lsp_server.errors import ModelLoadFailed

log = logging.getLogger(__name__)
T = TypeVar("T")
NOTICE = {"show_user": True}
"""``extra`` for a log record the server also shows to the user (window/showMessage)."""

Construct = Callable[[int], T]
"""Builds the model with the given n_gpu_layers; raises on failure."""


def memory_bytes() -> tuple[int, int | None]:
    """(physical memory, memory available now or None when the system does not say)."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return total, int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return total, None


def check_fits_memory(path: Path, n_gpu_layers: int, memory: tuple[int, int | None] | None = None) -> None:
    """Refuse a model on the CPU that is larger than this machine's memory; warn when it is
    larger than what is free now (llama.cpp would page it from disk, token by token).

    With layers on a GPU the weights need not fit in RAM, so there is nothing to check here.
    """
    if n_gpu_layers != 0:
        return
    size = path.stat().st_size
    total, available = memory or memory_bytes()
    if size > total:
        raise ModelLoadFailed(
            f"{path.name} is {_gib(size)} and this machine has {_gib(total)} of memory: it cannot run here. "
            "Choose a smaller model or quantization (e.g. Q4_K_M), or a machine with a GPU (model.n_gpu_layers)."
        )
    if available is not None and size > available:
        log.warning(
            "%s is %s but only %s of memory is free: it will load, but run slowly until memory is freed.",
            path.name, _gib(size), _gib(available), extra=NOTICE,
        )


def gguf_layer_count(path: Path) -> int:
    """Layers llama.cpp can offload: the GGUF's block_count plus the output layer (64 if unknown)."""
    from lsp_server.model.gguf_header import read_header  # gguf and numpy load only when a model does

    try:
        fields = read_header(path).fields
        arch = fields["general.architecture"].value
        return int(fields[f"{arch}.block_count"].value) + 1
    except Exception as exc:  # only a starting point for the retries: never a reason to fail
        log.info("could not read the layer count of %s (%s)", path, exc)
        return 64


def load_with_gpu_fallback(construct: Construct[T], n_gpu_layers: int, path: Path, layer_count: Callable[[Path], int] = gguf_layer_count) -> tuple[T, int]:
    """``construct(n_gpu_layers)``; on failure with layers on the GPU, retry with half as many
    (``-1``, all layers, counts as ``layer_count(path)``) down to 0. Returns the model and the
    count that worked; ModelLoadFailed when even the last try failed."""
    tried: list[int] = []
    layers = n_gpu_layers
    while True:
        tried.append(layers)
        try:
            model = construct(layers)
        except (ValueError, RuntimeError, OSError, MemoryError) as exc:
            if layers == 0:
                raise ModelLoadFailed(_failure(path, tried, exc)) from exc
            fewer = (layer_count(path) if layers < 0 else layers) // 2
            log.warning("Loading %s with n_gpu_layers=%d failed (%s); the GPU may be out of memory: trying %d.", path.name, layers, exc, fewer)
            layers = fewer
            continue
        if len(tried) > 1:
            log.warning(
                "%s did not fit on the GPU with n_gpu_layers=%d; it runs with %d layers on the GPU (slower). "
                "Set model.n_gpu_layers to %d to skip the retries, or lower model.n_ctx to fit more layers.",
                path.name, tried[0], layers, layers, extra=NOTICE,
            )
        return model, layers


def _failure(path: Path, tried: list[int], exc: BaseException) -> str:
    retries = f" (tried n_gpu_layers {', '.join(map(str, tried))})" if len(tried) > 1 else ""
    return (
        f"llama.cpp could not load {path} ({exc}){retries}. Check that the file is a complete GGUF "
        "of a supported architecture (gemma3, gemma4); if memory ran out, lower model.n_ctx."
    )


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"
