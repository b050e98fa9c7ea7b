"""`plan --measure`: load the model with the planned settings and read what llama.cpp itself
allocated (its log lines), to check the estimate on this machine. A named shape is first written
as a random-weight GGUF (synth) in a temporary folder."""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gguf

from quantize.plan import Recommendation, compute_buffer_bytes, kv_cache_bytes
from quantize.synth import SYNTH_TYPES, synth

_KV = re.compile(r"llama_kv_cache: size =\s+([0-9.]+) MiB")
_COMPUTE = re.compile(r"(\S+) compute buffer size =\s+([0-9.]+) MiB")
MiB = 1 << 20


@dataclass(frozen=True)
class Measurement:
    kv_estimate: int
    kv_llama_cpp: int
    compute_estimate: int
    compute_llama_cpp: int
    """Device compute buffers only (a CPU run: the CPU one)."""


def parse_allocation(log: str) -> tuple[int, int]:
    """(KV bytes, compute bytes) from llama.cpp's log; host-side compute buffers of a GPU run
    are left out, as plan's compute term is the device's."""
    kv = sum(float(x) for x in _KV.findall(log))
    computes = _COMPUTE.findall(log)
    device = [float(mib) for where, mib in computes if where != "CUDA_Host"]
    return int(kv * MiB), int(sum(device) * MiB)


def measure(rec: Recommendation, model: Path) -> Measurement:
    import llama_cpp

    s = rec.settings
    kv_type = int(gguf.GGMLQuantizationType[s.kv_type.upper()])
    log = io.StringIO()
    with contextlib.redirect_stderr(log):  # llama-cpp-python prints llama.cpp's log to sys.stderr
        llm = llama_cpp.Llama(str(model), n_gpu_layers=s.n_gpu_layers, n_ctx=s.n_ctx, flash_attn=s.flash_attn,
                              swa_full=s.swa_full, n_ubatch=s.n_ubatch, n_batch=s.n_ubatch, type_k=kv_type,
                              type_v=kv_type, verbose=True)
        llm.close()
    kv, compute = parse_allocation(log.getvalue())
    return Measurement(kv_cache_bytes(rec.shape, s.n_ctx, s.kv_type, n_ubatch=s.n_ubatch, swa_full=s.swa_full), kv,
                       compute_buffer_bytes(rec.shape, s.n_ctx, s.n_ubatch, s.flash_attn), compute)


def measure_shape(rec: Recommendation, tokenizer_from: Path) -> Measurement:
    """Synthesize the shape (the recommended quant where synth writes it, else Q4_K_M) and measure."""
    quant = rec.quant if rec.quant in SYNTH_TYPES else "Q4_K_M"
    with tempfile.TemporaryDirectory(prefix="gemma-quantize-") as folder:
        path = Path(folder) / f"{rec.shape.name}-{quant}.gguf"
        synth(rec.shape, path, quant, tokenizer_from=tokenizer_from)
        return measure(rec, path)
