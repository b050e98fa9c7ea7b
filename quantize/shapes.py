"""Model shapes: the hyper-parameters that decide tensor sizes and KV cache size.

Named shapes live in ``data/shapes.json`` (with where each number comes from); a GGUF file's shape
is read from its metadata with the ``gguf`` library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path

from quantize.errors import UnknownShape, UnsupportedArchitecture

SUPPORTED_ARCHS = ("gemma3", "gemma4")


@dataclass(frozen=True)
class ModelShape:
    name: str
    arch: str
    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_swa: int
    swa_period: int
    """A global layer closes every period: layer il is global when (il + 1) % swa_period == 0."""
    n_vocab: int
    n_ctx_train: int
    head_dim_global: int = 0
    """Head size of the global layers (Gemma 4: 512); 0 means the same as head_dim."""
    n_head_kv_global: int = 0
    """KV heads of the global layers (Gemma 4 26B/31B); 0 means the same as n_head_kv."""
    k_eq_v_global: bool = False
    """Global layers have no V projection (V is taken from K)."""
    n_embd_per_layer: int = 0
    """Gemma 4 E-models: width of the per-layer embeddings (PLE)."""
    n_kv_shared_layers: int = 0
    """The last N layers reuse earlier layers' KV cache and keep none of their own."""
    double_wide_shared_ffn: bool = False
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_expert: int = 0
    rope_freq_base: float = 1_000_000.0
    rope_freq_base_swa: float = 10_000.0
    swa_layers: tuple[bool, ...] | None = None
    """Explicit per-layer pattern (from a GGUF); overrides swa_period."""
    final_logit_softcapping: float = 0.0
    """Logits are squashed to (-cap, cap) with tanh (Gemma 4: 30); 0 means none."""
    rope_dim_swa: int = 0
    """Rotated dimensions of a sliding-window head; 0 means all of head_dim."""

    def is_swa(self, il: int) -> bool:
        if self.swa_layers is not None:
            return self.swa_layers[il]
        return (il + 1) % self.swa_period != 0

    def kv_heads(self, il: int) -> int:
        return self.n_head_kv if self.is_swa(il) else (self.n_head_kv_global or self.n_head_kv)

    def head_size(self, il: int) -> int:
        return self.head_dim if self.is_swa(il) else (self.head_dim_global or self.head_dim)

    def has_own_kv(self, il: int) -> bool:
        return il < self.n_layer - self.n_kv_shared_layers

    def ff_length(self, il: int) -> int:
        wide = self.double_wide_shared_ffn and not self.has_own_kv(il)
        return self.n_ff * 2 if wide else self.n_ff


@lru_cache(maxsize=1)
def _table() -> dict:
    text = resources.files("quantize").joinpath("data/shapes.json").read_text(encoding="utf-8")
    return json.loads(text)


def shape_names() -> list[str]:
    return sorted(_table()["shapes"])


def shape_source(name: str) -> str:
    return _table()["_sources"].get(name, "")


def load_shape(name: str) -> ModelShape:
    """A named shape, or UnknownShape listing the names there are."""
    spec = _table()["shapes"].get(name)
    if spec is None:
        raise UnknownShape(f"Unknown shape {name!r}. Known shapes: {', '.join(shape_names())}; or pass a .gguf file.")
    return ModelShape(name=name, **spec)


def shape_with(shape: ModelShape, **changes) -> ModelShape:
    """A copy with some fields changed (tests use it for reduced shapes)."""
    values = {f.name: getattr(shape, f.name) for f in fields(shape)}
    values.update(changes)
    return ModelShape(**values)


def check_arch(arch: str, origin: str) -> None:
    if arch not in SUPPORTED_ARCHS:
        raise UnsupportedArchitecture(
            f"{origin} is a {arch!r} model; gemma-quantize handles {' and '.join(SUPPORTED_ARCHS)} only. "
            "Use llama.cpp's own tools for other architectures."
        )


def looks_like_file(model: str) -> bool:
    return model.endswith(".gguf") or Path(model).is_file()
