"""Model loading faults: GPU out-of-memory at load (retried with fewer layers, said to the user)
and a model too big for this machine's memory (refused up front with a clear message).

This machine has no GPU, so the out-of-memory is injected: first into the retry rule alone, then
into llama-cpp-python's constructor while the real bundled model loads for real on the CPU.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from lsp_server.config import ModelSettings
from lsp_server.errors import ModelLoadFailed
from lsp_server.features.logs import ClientLogHandler
from lsp_server.model import llama_backend
from lsp_server.model.backend import CancelToken, GenerationRequest
from lsp_server.model.load import (
    check_fits_memory,
    gguf_layer_count,
    load_with_gpu_fallback,
)

GIB = 2**30


def gpu_with_room_for(layers: int):
    """A constructor that fails like llama.cpp does when more than ``layers`` do not fit."""
    calls = []

    def construct(n_gpu_layers: int):
        calls.append(n_gpu_layers)
        if n_gpu_layers < 0 or n_gpu_layers > layers:
            raise ValueError("Failed to load model from file: /models/big.gguf")
        return f"model with {n_gpu_layers} GPU layers"

    return construct, calls


def test_out_of_memory_on_the_gpu_is_retried_with_half_the_layers(caplog):
    construct, calls = gpu_with_room_for(10)
    with caplog.at_level(logging.INFO, logger="lsp_server"):
        model, layers = load_with_gpu_fallback(construct, -1, Path("/models/big.gguf"), layer_count=lambda _: 63)
    assert calls == [-1, 31, 15, 7] and layers == 7 and model == "model with 7 GPU layers"
    shown = [r for r in caplog.records if getattr(r, "show_user", False)]
    assert len(shown) == 1 and "n_gpu_layers=-1" in shown[0].getMessage() and "Set model.n_gpu_layers to 7" in shown[0].getMessage()


def test_a_load_that_fails_even_on_the_cpu_says_what_was_tried():
    construct, calls = gpu_with_room_for(-5)  # nothing fits, not even 0 layers
    with pytest.raises(ModelLoadFailed) as error:
        load_with_gpu_fallback(construct, 12, Path("/models/big.gguf"))
    assert calls == [12, 6, 3, 1, 0]
    assert "tried n_gpu_layers 12, 6, 3, 1, 0" in str(error.value) and "complete GGUF" in str(error.value)


def test_a_cpu_load_is_tried_once_and_a_first_success_says_nothing(caplog):
    construct, calls = gpu_with_room_for(-5)
    with pytest.raises(ModelLoadFailed) as error:
        load_with_gpu_fallback(construct, 0, Path("/models/big.gguf"))
    assert calls == [0] and "tried" not in str(error.value)
    construct, calls = gpu_with_room_for(99)
    with caplog.at_level(logging.INFO, logger="lsp_server"):
        assert load_with_gpu_fallback(construct, 20, Path("/m.gguf"))[1] == 20
    assert calls == [20] and not caplog.records


def test_a_model_larger_than_memory_is_refused_and_one_larger_than_free_memory_warned(tmp_path: Path, caplog):
    model = tmp_path / "big.gguf"
    with model.open("wb") as handle:
        handle.truncate(40 * GIB)  # sparse: the size is what is checked
    with pytest.raises(ModelLoadFailed) as error:
        check_fits_memory(model, 0, memory=(23 * GIB, 20 * GIB))
    assert "big.gguf is 40.0 GiB and this machine has 23.0 GiB of memory" in str(error.value)
    with caplog.at_level(logging.INFO, logger="lsp_server"):
        check_fits_memory(model, 0, memory=(64 * GIB, 30 * GIB))
    assert [r.getMessage() for r in caplog.records if getattr(r, "show_user", False)] == [
        "big.gguf is 40.0 GiB but only 30.0 GiB of memory is free: it will load, but run slowly until memory is freed."
    ]
    check_fits_memory(model, 20, memory=(23 * GIB, 20 * GIB))  # layers on a GPU: RAM is not the limit


def test_the_layer_count_comes_from_the_gguf(tmp_path: Path):
    from lsp_server.model.resolve import bundled_model_path

    assert gguf_layer_count(bundled_model_path()) == 19  # Gemma 3 270M: 18 blocks + the output layer
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\xff" * 64)
    assert gguf_layer_count(junk) == 64


def test_the_real_model_loads_with_fewer_layers_after_an_injected_gpu_out_of_memory(monkeypatch, caplog):
    """The bundled model through LlamaCppBackend; llama.cpp's constructor refuses more than 4
    GPU layers (as a full GPU would), the backend retries, loads, and generates."""
    import llama_cpp

    real = llama_cpp.Llama
    tried = []

    def small_gpu(*args, n_gpu_layers: int, **kwargs):
        tried.append(n_gpu_layers)
        if n_gpu_layers < 0 or n_gpu_layers > 4:
            raise ValueError("Failed to create llama_context")
        return real(*args, n_gpu_layers=n_gpu_layers, **kwargs)

    monkeypatch.setattr(llama_cpp, "Llama", small_gpu)
    monkeypatch.setattr(llama_backend, "gpu_offload_supported", lambda: True)
    backend = llama_backend.LlamaCppBackend(ModelSettings(n_ctx=512, n_gpu_layers=-1))
    try:
        with caplog.at_level(logging.INFO, logger="lsp_server"):
            info = backend.load()
        assert tried == [-1, 9, 4] and info.n_gpu_layers == 4
        assert any(getattr(r, "show_user", False) and "runs with 4 layers on the GPU" in r.getMessage() for r in caplog.records)
        generation = backend.submit(GenerationRequest(text="def add(a, b):\n    return", max_tokens=4, temperature=0.0), lambda _: None, CancelToken()).result(timeout=120)
        assert generation.completion_tokens > 0
    finally:
        backend.close()


def test_a_notice_is_shown_to_the_user_as_well_as_logged():
    sent = {"log": [], "show": []}

    class Server:
        def window_log_message(self, params):
            sent["log"].append(params.message)

        def window_show_message(self, params):
            sent["show"].append(params.message)

    async def emit():
        handler = ClientLogHandler(Server())
        handler.attach(asyncio.get_running_loop())
        logger = logging.getLogger("lsp_server.test_notice")
        logger.addHandler(handler)
        try:
            logger.warning("plain")
            logger.warning("for the user %d", 7, extra={"show_user": True})
            await asyncio.sleep(0.05)
        finally:
            logger.removeHandler(handler)

    asyncio.run(emit())
    assert sent["show"] == ["for the user 7"]
    assert len(sent["log"]) == 2
