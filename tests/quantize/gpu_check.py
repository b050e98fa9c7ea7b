"""Check plan's GPU memory estimate against llama.cpp on a real card (not a pytest test).

Usage (one process per context size, so each measures its own CUDA context):
    python tests/quantize/gpu_check.py MODEL.gguf N_CTX [KV_TYPE]
Prints one JSON line: GPU memory in use after loading (nvidia-smi, minus what was in use before),
llama.cpp's own buffer sizes from its log, and plan's estimate for the same settings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from quantize.gguf_meta import read_summary
from quantize.plan import Settings, estimate, weights_from_tensors

BUFFERS = re.compile(r"(CUDA0|CPU)\S*\s+(model|KV|compute|output)\s+buffer size\s+=\s+([0-9.]+) MiB")


def gpu_used_mib() -> int:
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[0])


def main(path: str, n_ctx: int, kv_type: str = "f16") -> None:
    import llama_cpp

    summary = read_summary(Path(path))
    settings = Settings(summary.shape.n_layer + 1, n_ctx, kv_type, True, False, 512)
    est = estimate(summary.shape, weights_from_tensors(summary.shape, summary.tensors, summary.file_type), settings)
    before = gpu_used_mib()
    kv = int(getattr(llama_cpp, f"GGML_TYPE_{kv_type.upper()}"))
    log = tempfile.TemporaryFile(mode="w+")
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        model = llama_cpp.Llama(path, n_gpu_layers=-1, n_ctx=n_ctx, flash_attn=True, swa_full=False,
                                n_ubatch=512, n_batch=512, type_k=kv, type_v=kv, verbose=True)
        model.eval(model.tokenize(b"def add(a, b):\n    return a + b\n"))
    finally:
        os.dup2(saved, 2)
    after = gpu_used_mib()
    log.seek(0)
    buffers: dict[str, float] = {}
    for dev, kind, mib in BUFFERS.findall(log.read()):
        buffers[f"{dev} {kind}"] = buffers.get(f"{dev} {kind}", 0.0) + float(mib)
    measured = (after - before) * 2**20
    print(json.dumps({"n_ctx": n_ctx, "kv_type": kv_type, "measured_mib": after - before,
                      "estimate_mib": round(est.total_gpu / 2**20), "ratio": round(est.total_gpu / measured, 3),
                      "estimate_parts_mib": {k: round(v / 2**20) for k, v in est.__dict__.items()},
                      "llama_cpp_buffers_mib": buffers}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:])
