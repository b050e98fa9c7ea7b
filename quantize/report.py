"""Plain-text and JSON renderings of the package's results (the CLI prints them)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from quantize.plan import GiB, QuantRow, Recommendation
from quantize.tensors import parameter_count

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
          "g": 2**30, "gb": 1e9, "gib": 2**30, "t": 2**40, "tb": 1e12, "tib": 2**40}


def parse_size(text: str) -> int:
    """'24GiB', '24G' (GiB, as nvidia-smi means it), '24GB' (10^9), '8000MiB', '0' -> bytes."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if unit not in _UNITS:
        raise ValueError(f"Cannot read {text!r} as a memory size; write it like 24GiB, 24GB or 8000MiB.")
    return int(float(match.group(1)) * _UNITS[unit])


def gib(n: int) -> str:
    return f"{n / GiB:.2f} GiB"


def jsonable(value):
    if dataclasses.is_dataclass(value):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def plan_json(rec: Recommendation, table: list[QuantRow]) -> dict:
    est = rec.estimate
    return {
        "model": rec.model, "arch": rec.shape.arch, "n_layer": rec.shape.n_layer,
        "parameters": parameter_count(rec.shape), "file_type": rec.file_type, "free_bytes": rec.free_bytes,
        "recommended": {"quant": rec.quant, **rec.llama_kwargs(), "kv_type": rec.settings.kv_type,
                        "sampler": "auto" if rec.settings.gpu_sampler else "fast", "cublas_from": rec.settings.cublas_from},
        "max_ctx_all_layers": rec.max_ctx,
        "estimate_bytes": {**jsonable(est), "total_gpu": est.total_gpu},
        "table": jsonable(table), "notes": rec.notes,
    }


def plan_text(rec: Recommendation, table: list[QuantRow]) -> str:
    s, est, shape = rec.settings, rec.estimate, rec.shape
    n_global = sum(1 for il in range(shape.n_layer) if not shape.is_swa(il))
    lines = [
        f"Model: {rec.model} ({shape.arch}, {shape.n_layer} layers: {shape.n_layer - n_global} sliding-window "
        f"({shape.n_swa} tokens) + {n_global} global; {parameter_count(shape) / 1e9:.2f}B parameters"
        + (f"; file type {rec.file_type})" if rec.file_type else ")"),
        f"GPU memory: {gib(rec.free_bytes)} (planned to 95%)",
        f"Recommended quantization: {rec.quant}",
        (f"Settings: n_gpu_layers={s.n_gpu_layers} of {shape.n_layer + 1}, n_ctx={s.n_ctx}, KV cache {s.kv_type}, "
         f"flash_attn={s.flash_attn}, swa_full={s.swa_full}, n_ubatch={s.n_ubatch}, "
         f"sampler={'auto (top-k in the graph)' if s.gpu_sampler else 'fast'}"),
        f"On the GPU: weights {gib(est.weights_gpu)} + KV cache {gib(est.kv_gpu)} + compute {gib(est.compute_gpu)}"
        f" + CUDA reserve {gib(est.reserve_gpu)} = {gib(est.total_gpu)}",
        f"In host memory: weights {gib(est.weights_host)} + KV cache {gib(est.kv_host)}",
        f"Longest context with every layer on the GPU: {rec.max_ctx}",
        "", f"{'quant':<8} {'weights':>11} {'max ctx, f16 KV':>16} {'max ctx, q8_0 KV':>17}",
    ]
    lines += [f"{r.quant:<8} {gib(r.weights_bytes):>11} {r.max_ctx_f16:>16} {r.max_ctx_q8_0:>17}" for r in table]
    return "\n".join(lines + [""] + [f"Note: {n}" for n in rec.notes])
