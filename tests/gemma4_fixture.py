"""The Gemma 4 test model: a tiny ``gemma4`` GGUF with random weights, Gemma 4's control tokens
as control tokens and the real Gemma 4 31B chat template, written by ``gemma-quantize synth``
from the bundled Gemma 3 tokenizer (nothing downloaded). Random weights cannot write a thought
or a code block: the tests that need an answer script it (a fake backend or fake team server)."""

from __future__ import annotations

from pathlib import Path

TEMPLATE = Path(__file__).parent / "data" / "templates" / "google-gemma-4-31B-it.jinja"


def tiny_gemma4_shape():
    """The 31B's structure in six small layers: the sixth is the global one (llama.cpp's
    gemma4 expects the global layers' own tensors, so fewer layers fail to load)."""
    from quantize.shapes import load_shape, shape_with

    return shape_with(load_shape("gemma4-31b"), name="gemma4-tiny", n_layer=6, n_embd=256, n_ff=512, n_head=2,
                      n_head_kv=1, n_head_kv_global=1, head_dim=128, head_dim_global=256, n_swa=64, n_ctx_train=4096)


def build_gemma4_gguf(out: Path, tokenizer_from: Path, template: bool = True) -> Path:
    from quantize.synth import synth

    text = TEMPLATE.read_text(encoding="utf-8") if template else None
    synth(tiny_gemma4_shape(), out, "Q8_0", tokenizer_from=tokenizer_from, chat_template=text)
    return out
