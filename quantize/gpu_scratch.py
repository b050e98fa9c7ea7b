"""GPU memory that llama.cpp's own accounting leaves out, measured on an H100 (issue 22,
tests/benchmarks/RESULTS.md): top-k inside the model's graph, and the f16 copies cuBLAS
multiplies. ``quantize.plan`` adds them to its estimate."""

from __future__ import annotations

from quantize.shapes import ModelShape

MiB = 1 << 20


def sampler_bytes(shape: ModelShape, n_ubatch: int) -> int:
    """Top-k inside the model's graph (the server's ``model.sampler = "auto"`` on a GPU): llama.cpp
    reserves its buffers for a whole ubatch of outputs, one more f32 row of the vocabulary per
    token (measured: +514 MiB at n_ubatch 512 on an H200, +2,048 MiB at 2048 on an H100)."""
    return 4 * shape.n_vocab * n_ubatch


CUBLAS_OWN = 188 * MiB
"""cuBLAS's own device memory (kernels, workspace) once it multiplies: the part of the H100
measurements (issue 22) that does not grow with the batch."""


def cublas_scratch_bytes(shape: ModelShape, n_ubatch: int) -> int:
    """cuBLAS multiplies f16 copies: the largest feed-forward matrix dequantized, the batch's
    activations in and out; plus its own memory. Fits the H100's 31B-shape figures (513 MiB at
    n_ubatch 2048, 619 at 4096) to the MiB."""
    n_ff = max(shape.n_ff, shape.n_ff_expert)
    return 2 * shape.n_embd * n_ff + 2 * n_ubatch * (shape.n_embd + n_ff) + CUBLAS_OWN
