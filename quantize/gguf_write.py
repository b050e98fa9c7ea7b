"""Writing GGUF files with the ``gguf`` library: hyper-parameters of a shape, a tokenizer copied
from another GGUF, and tensors streamed one at a time (header first, then data)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterable

import gguf
import numpy as np

from quantize.errors import BadInput, NotEnoughDisk, OutputExists
from lsp_server.model.gguf_header import read_header
from quantize.gemma4_vocab import has_gemma4_tokens, with_gemma4_tokens
from quantize.shapes import ModelShape

RMS_EPS = 1e-6
Progress = Callable[[int, int, str], None]
"""progress(done, total, what): called after each tensor."""


def check_output(path: Path, force: bool, needed_bytes: int) -> None:
    """Refuse to overwrite (unless force) and refuse to start without the disk space to finish."""
    if path.exists() and not force:
        raise OutputExists(f"{path} exists. Choose another name, or pass --force to overwrite it.")
    folder = path.parent if path.parent != Path("") else Path(".")
    if not folder.is_dir():
        raise BadInput(f"The folder {folder} does not exist. Create it first.")
    free = shutil.disk_usage(folder).free
    if needed_bytes > free:
        raise NotEnoughDisk(
            f"Writing {path.name} needs about {needed_bytes / 2**30:.2f} GiB but {folder} has "
            f"{free / 2**30:.2f} GiB free. Free some space or write elsewhere."
        )


def add_hparams(writer: gguf.GGUFWriter, shape: ModelShape, name: str, file_type: int) -> None:
    writer.add_name(name)
    writer.add_type("model")
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_context_length(shape.n_ctx_train)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_head_count(shape.n_head)
    if shape.arch != "gemma4":
        writer.add_feed_forward_length(shape.n_ff)
        writer.add_head_count_kv(shape.n_head_kv)
    writer.add_key_length(shape.head_dim_global or shape.head_dim)
    writer.add_value_length(shape.head_dim_global or shape.head_dim)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_rope_freq_base(shape.rope_freq_base)
    writer.add_sliding_window(shape.n_swa)
    if shape.final_logit_softcapping:
        writer.add_final_logit_softcapping(shape.final_logit_softcapping)
    if shape.arch == "gemma4":
        _add_gemma4_hparams(writer, shape)


def _add_gemma4_hparams(writer: gguf.GGUFWriter, shape: ModelShape) -> None:
    writer.add_rope_dimension_count(shape.head_dim_global or shape.head_dim)
    writer.add_rope_dimension_count_swa(shape.rope_dim_swa or shape.head_dim)
    writer.add_key_length_swa(shape.head_dim)
    writer.add_value_length_swa(shape.head_dim)
    writer.add_rope_freq_base_swa(shape.rope_freq_base_swa)
    writer.add_sliding_window_pattern([shape.is_swa(il) for il in range(shape.n_layer)])
    writer.add_head_count_kv([shape.kv_heads(il) for il in range(shape.n_layer)])
    writer.add_feed_forward_length([shape.ff_length(il) for il in range(shape.n_layer)])
    writer.add_shared_kv_layers(shape.n_kv_shared_layers)
    writer.add_embedding_length_per_layer_input(shape.n_embd_per_layer)
    if shape.n_expert:
        writer.add_expert_count(shape.n_expert)
        writer.add_expert_used_count(shape.n_expert_used)
        writer.add_expert_feed_forward_length(shape.n_ff_expert)


def copy_tokenizer(writer: gguf.GGUFWriter, source: Path, n_vocab: int | None = None, gemma4: bool = False) -> int:
    """Copy every tokenizer.* field of the GGUF at source; returns the vocabulary size.

    With n_vocab larger than the source's vocabulary (Gemma 3 27B's embedding has 64 rows more
    than its tokenizer), unused placeholder tokens fill the difference. ``gemma4``: a Gemma 3
    tokenizer gets Gemma 4's control tokens (quantize/gemma4_vocab.py).
    """
    if not source.is_file():
        raise BadInput(f"Tokenizer source {source} does not exist. Pass --tokenizer-from FILE.gguf.")
    header = read_header(source)
    tokens = header.get("tokenizer.ggml.tokens")
    if not tokens:
        raise BadInput(f"{source} has no tokenizer.ggml.tokens: copy the tokenizer from a complete GGUF.")
    extra = (n_vocab or len(tokens)) - len(tokens)
    if extra < 0:
        raise BadInput(f"{source} has {len(tokens)} tokens but the model has {n_vocab} embedding rows: "
                       "take the tokenizer from a GGUF of the same model family.")
    replaced = {}
    if gemma4 and not has_gemma4_tokens(tokens):
        new_tokens, new_types = with_gemma4_tokens(tokens, header.get("tokenizer.ggml.token_type"))
        replaced = {"tokenizer.ggml.tokens": new_tokens, "tokenizer.ggml.token_type": new_types}
    for key, field in header.fields.items():
        if key.startswith("tokenizer."):
            value = replaced.get(key, field.value)
            writer.add_key_value(key, _padded(key, value, len(tokens), extra), field.vtype, sub_type=field.sub_type)
    return len(tokens) + extra


def _padded(key: str, value, n_tokens: int, extra: int):
    if not extra or not isinstance(value, list) or len(value) != n_tokens:
        return value
    filler = {"tokenizer.ggml.tokens": [f"<unused_pad_{i}>" for i in range(extra)],
              "tokenizer.ggml.scores": [0.0] * extra,
              "tokenizer.ggml.token_type": [int(gguf.TokenType.UNUSED)] * extra}
    return value + filler.get(key, [])


def byte_shape(dims: tuple[int, ...], qtype: gguf.GGMLQuantizationType) -> tuple[int, ...]:
    """numpy shape of a tensor's raw bytes (dims in GGUF order, dims[0] the row)."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    if dims[0] % block:
        raise BadInput(f"A row of {dims[0]} values cannot be stored as {qtype.name} (blocks of {block}).")
    return (*reversed(dims[1:]), dims[0] // block * size)


def tensor_nbytes(dims: tuple[int, ...], qtype: gguf.GGMLQuantizationType) -> int:
    return int(np.prod(byte_shape(dims, qtype)))


def write_streamed(writer: gguf.GGUFWriter, out: Path,
                   tensors: Iterable[tuple[str, tuple[int, ...], gguf.GGMLQuantizationType, Callable[[], np.ndarray]]],
                   progress: Progress | None = None) -> None:
    """Declare every tensor, write the header, then make and write each tensor's bytes in turn."""
    tensors = list(tensors)
    for name, dims, qtype, _ in tensors:
        shape = byte_shape(dims, qtype)
        writer.add_tensor_info(name, shape, np.dtype(np.uint8), int(np.prod(shape)), raw_dtype=qtype)
    writer.write_header_to_file(out)
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for done, (name, dims, qtype, make) in enumerate(tensors, 1):
        data = make()
        writer.write_tensor_data(data.view(np.uint8).reshape(byte_shape(dims, qtype)))
        if progress:
            progress(done, len(tensors), name)
    writer.close()
