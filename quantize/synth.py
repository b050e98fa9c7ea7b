"""A random-weight GGUF of a real architecture: the exact tensor names, shapes and metadata, a
real tokenizer, and weights that are noise. Speed and memory do not depend on the values, so it
measures a model you do not have yet."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from quantize.errors import UnknownQuantType
from quantize.gguf_write import Progress, check_output, copy_tokenizer, tensor_nbytes, write_streamed, add_hparams
from quantize.shapes import ModelShape, shape_with
from quantize.tensors import TensorSpec, model_tensors

Q = gguf.GGMLQuantizationType
# A file type name -> the one GGML type every 2-D weight gets, and its llama.cpp ftype number.
# (llama.cpp's own K-quant mixes vary the type per tensor; quantize an F16 synth for those.)
SYNTH_TYPES: dict[str, tuple[Q, gguf.LlamaFileType]] = {
    "F32": (Q.F32, gguf.LlamaFileType.ALL_F32), "F16": (Q.F16, gguf.LlamaFileType.MOSTLY_F16),
    "BF16": (Q.BF16, gguf.LlamaFileType.MOSTLY_BF16), "Q8_0": (Q.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "Q5_0": (Q.Q5_0, gguf.LlamaFileType.MOSTLY_Q5_0), "Q4_0": (Q.Q4_0, gguf.LlamaFileType.MOSTLY_Q4_0),
    "Q6_K": (Q.Q6_K, gguf.LlamaFileType.MOSTLY_Q6_K), "Q5_K_M": (Q.Q5_K, gguf.LlamaFileType.MOSTLY_Q5_K_M),
    "Q4_K_M": (Q.Q4_K, gguf.LlamaFileType.MOSTLY_Q4_K_M),
}
TILE_ROWS = 256
SCALE = 0.02


def synth(shape: ModelShape, out: Path, quant: str = "Q4_K_M", *, tokenizer_from: Path,
          force: bool = False, seed: int = 0, progress: Progress | None = None,
          chat_template: str | None = None) -> ModelShape:
    """Write the random-weight GGUF; returns the shape written (its vocabulary is the tokenizer's).

    A Gemma 4 shape gets Gemma 4's control tokens even from a Gemma 3 tokenizer, so the file
    speaks its family's chat format; ``chat_template`` (Jinja) goes into tokenizer.chat_template.
    """
    qtype, ftype = synth_type(quant)
    writer = gguf.GGUFWriter(out, shape.arch)
    vocab = copy_tokenizer(writer, tokenizer_from, gemma4=shape.arch == "gemma4")
    if chat_template:
        writer.add_chat_template(chat_template)
    shape = shape_with(shape, n_vocab=vocab)
    specs = model_tensors(shape)
    check_output(out, force, sum(tensor_nbytes(s.dims, _type_of(s, qtype)) for s in specs) + (64 << 20))
    add_hparams(writer, shape, f"synthetic {shape.name}", int(ftype))
    rng = np.random.default_rng(seed)
    plan = [(s.name, s.dims, _type_of(s, qtype), _maker(s, _type_of(s, qtype), rng)) for s in specs]
    write_streamed(writer, out, plan, progress)
    return shape


def synth_type(quant: str) -> tuple[Q, gguf.LlamaFileType]:
    try:
        return SYNTH_TYPES[quant.upper()]
    except KeyError:
        raise UnknownQuantType(f"synth writes {', '.join(SYNTH_TYPES)}; got {quant!r}. "
                               "For other types, synth F16 and run `gemma-quantize quantize`.") from None


def _type_of(spec: TensorSpec, qtype: Q) -> Q:
    """Norms stay F32; a row that the type's blocks do not divide falls back as llama.cpp does."""
    if spec.is_norm:
        return Q.F32
    for candidate in (qtype, Q.Q8_0, Q.F16):
        if spec.dims[0] % gguf.GGML_QUANT_SIZES[candidate][0] == 0:
            return candidate
    return Q.F16


def _maker(spec: TensorSpec, qtype: Q, rng: np.random.Generator):
    def make() -> np.ndarray:
        if spec.is_norm:
            return np.ones(spec.dims, dtype=np.float32)
        rows = spec.n_elements // spec.dims[0]
        tile = random_rows(min(rows, TILE_ROWS), spec.dims[0], qtype, rng)
        return np.resize(tile, (rows, tile.shape[1]))
    return make


def random_rows(n_rows: int, row_len: int, qtype: Q, rng: np.random.Generator) -> np.ndarray:
    """n_rows random rows of qtype as raw bytes: gguf's quantizer where it has one, else random
    K-quant blocks with fixed small scales (so activations stay finite)."""
    values = (rng.standard_normal((n_rows, row_len)) * SCALE).astype(np.float32)
    if qtype in (Q.F32, Q.F16):
        return values.astype(np.float16 if qtype == Q.F16 else np.float32).view(np.uint8)
    if qtype in (Q.Q6_K, Q.Q5_K, Q.Q4_K):
        return _random_k_blocks(n_rows, row_len, qtype, rng)
    return gguf.quants.quantize(values, qtype).view(np.uint8).reshape(n_rows, -1)


def _random_k_blocks(n_rows: int, row_len: int, qtype: Q, rng: np.random.Generator) -> np.ndarray:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_rows * row_len // block, size), dtype=np.uint8)
    if qtype == Q.Q6_K:  # ql, qh, 16 int8 scales, f16 d
        blocks[:, 192:208] = rng.integers(1, 8, size=(blocks.shape[0], 16), dtype=np.uint8)
        blocks[:, 208:210] = np.array([0.002], dtype=np.float16).view(np.uint8)
    else:  # f16 d, f16 dmin, 12 bytes of 6-bit scales, quants
        blocks[:, 0:2] = np.array([0.002], dtype=np.float16).view(np.uint8)
        blocks[:, 2:4] = np.array([0.001], dtype=np.float16).view(np.uint8)
    return blocks.reshape(n_rows, -1)
