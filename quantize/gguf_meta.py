"""What a GGUF file says about itself: its shape (from metadata) and its tensors' byte sizes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from lsp_server.model.gguf_header import Header, read_header
from quantize.shapes import ModelShape, check_arch


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]
    """GGUF order: dims[0] is the row length."""
    type_name: str
    n_bytes: int

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.dims))


@dataclass(frozen=True)
class GgufSummary:
    path: Path
    shape: ModelShape
    tensors: tuple[TensorInfo, ...]
    file_type: str
    """The GGUF's general.file_type as a llama.cpp ftype name (Q4_K_M, F16...), or "unknown"."""


def read_summary(path: Path) -> GgufSummary:
    header = read_header(path)
    shape = shape_from_header(header, path.name)
    tensors = tuple(TensorInfo(t.name, t.dims, t.qtype.name, t.n_bytes) for t in header.tensors)
    return GgufSummary(path, shape, tensors, ftype_name(header.get("general.file_type")))


def shape_from_header(header: Header, name: str) -> ModelShape:
    arch = header.get("general.architecture", "unknown")
    check_arch(arch, name)

    def key(suffix: str, default=None):
        return header.get(f"{arch}.{suffix}", default)

    head_dim = key("attention.key_length_swa") or key("attention.key_length")
    kv = key("attention.head_count_kv")
    kv_list = kv if isinstance(kv, list) else None
    pattern = key("attention.sliding_window_pattern")
    swa_layers = tuple(bool(x) for x in pattern) if isinstance(pattern, list) else None
    ff = key("feed_forward_length")
    return ModelShape(
        name=name, arch=arch, n_layer=key("block_count"), n_embd=key("embedding_length"),
        n_ff=max(ff) if isinstance(ff, list) else ff, n_head=_first(key("attention.head_count")),
        n_head_kv=_swa_value(kv_list, swa_layers, True) if kv_list else kv, head_dim=head_dim,
        n_swa=key("attention.sliding_window", 0),
        swa_period=pattern if isinstance(pattern, int) else 6,
        n_vocab=len(header.get("tokenizer.ggml.tokens", [])), n_ctx_train=key("context_length"),
        head_dim_global=key("attention.key_length", head_dim),
        n_head_kv_global=_swa_value(kv_list, swa_layers, False) if kv_list else 0,
        n_embd_per_layer=key("embedding_length_per_layer_input", 0),
        n_kv_shared_layers=key("attention.shared_kv_layers", 0),
        n_expert=key("expert_count", 0), n_expert_used=key("expert_used_count", 0),
        n_ff_expert=key("expert_feed_forward_length", 0),
        rope_freq_base=key("rope.freq_base", 1_000_000.0),
        rope_freq_base_swa=key("rope.freq_base_swa", 10_000.0), swa_layers=swa_layers,
    )


def _first(value):
    return value[0] if isinstance(value, list) else value


def _swa_value(values: list[int], swa_layers: tuple[bool, ...] | None, want_swa: bool) -> int:
    if swa_layers is None:
        return values[0]
    picked = [v for v, swa in zip(values, swa_layers) if swa == want_swa and v > 0]
    return picked[0] if picked else values[0]


def ftype_name(value) -> str:
    if value is None:
        return "unknown"
    try:
        name = gguf.LlamaFileType(int(value)).name
    except ValueError:
        return "unknown"
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")  # ALL_F32 -> F32
