"""The pure part of ``gemma/status``: settings and model facts to the status bar's JSON."""

from __future__ import annotations

from lsp_server.config import ModelSettings, RemoteSettings, Settings
from lsp_server.features.status import context_tokens, describe
from lsp_server.model.backend import ModelInfo


def info(n_gpu_layers: int, gpu: bool) -> ModelInfo:
    return ModelInfo(path="/m/g.gguf", source="setting", architecture="gemma3", name="Gemma 3 270M", n_ctx=4096,
                     n_ctx_train=32768, n_gpu_layers=n_gpu_layers, gpu_offload_supported=gpu, has_chat_template=False,
                     prompt_style="completion", size_bytes=1)


MANIFEST = [{"tokens": 30, "included": True}, {"tokens": 500, "included": False}, {"tokens": 12, "included": True}]


def test_before_loading_it_reports_the_settings():
    settings = Settings(model=ModelSettings(path="/models/gemma-4-e4b.gguf", n_ctx=2048, n_gpu_layers=-1))
    status = describe(settings, None, None, 0, gpu_supported=True)
    assert status == {"model": "gemma-4-e4b.gguf", "loaded": False, "backend": "gpu", "gpu_layers": -1, "n_ctx": 2048,
                      "context_tokens_last": None, "prompt_tokens_last": None, "busy": False, "running": 0}
    assert describe(Settings(), None, None, 0, gpu_supported=False)["backend"] == "cpu"


def test_loaded_model_facts_win_and_only_included_context_counts():
    status = describe(Settings(), info(0, gpu=True), context_tokens(MANIFEST), 2, gpu_supported=True)
    assert status["model"] == "Gemma 3 270M" and status["n_ctx"] == 4096 and status["loaded"]
    assert status["backend"] == "cpu" and status["gpu_layers"] == 0, "no layers offloaded runs on the CPU"
    assert status["context_tokens_last"] == 42 and status["busy"] and status["running"] == 2
    assert describe(Settings(), info(-1, gpu=True), context_tokens([]), 0, True)["backend"] == "gpu"
    assert describe(Settings(), info(0, gpu=False), context_tokens(MANIFEST), 0, False, prompt_tokens=1185)["prompt_tokens_last"] == 1185


def test_remote_backend():
    settings = Settings(backend="openai", remote=RemoteSettings(model="team-gemma"))
    assert describe(settings, None, None, 0, gpu_supported=False)["model"] == "team-gemma"
    assert describe(settings, None, None, 0, gpu_supported=False)["backend"] == "remote"
