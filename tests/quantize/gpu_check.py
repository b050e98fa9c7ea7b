"""Check plan's GPU memory estimate against llama.cpp on a real card (not a pytest test).

Usage (one process per setting, so each measures its own CUDA context):
    python tests/quantize/gpu_check.py MODEL.gguf N_CTX [KV_TYPE]
Prints one JSON line: GPU memory in use after loading and a prompt of two ubatches (nvidia-smi, minus
what was in use before) and plan's estimate for the same settings. (Redirecting fd 2 to capture
llama.cpp's own buffer log crashed the CUDA build, so only nvidia-smi is read.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lsp_server.cli.doctor import installed_cublas_from
from quantize.gguf_meta import read_summary
from quantize.plan import Settings, estimate, weights_from_tensors


def gpu_used_mib() -> int:
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def main(path: str, n_ctx: int, kv_type: str = "f16") -> None:
    import llama_cpp

    summary = read_summary(Path(path))
    settings = Settings(summary.shape.n_layer + 1, n_ctx, kv_type, True, False, 512, cublas_from=installed_cublas_from())
    est = estimate(summary.shape, weights_from_tensors(summary.shape, summary.tensors, summary.file_type), settings)
    before = gpu_used_mib()
    kv = int(getattr(llama_cpp, f"GGML_TYPE_{kv_type.upper()}"))
    model = llama_cpp.Llama(path, n_gpu_layers=-1, n_ctx=n_ctx, flash_attn=True, swa_full=False, n_ubatch=512,
                            type_k=kv, type_v=kv, verbose=False)
    # a prompt longer than one ubatch, so the kernels (and buffers) of a real prefill are used
    model.eval(model.tokenize(b"def add(a, b):\n    return a + b\n" * 80)[: n_ctx // 2])
    measured = gpu_used_mib() - before
    estimate_mib = est.total_gpu / 2**20
    print(json.dumps({"n_ctx": n_ctx, "kv_type": kv_type, "measured_mib": measured,
                      "estimate_mib": round(estimate_mib), "ratio": round(estimate_mib / measured, 3),
                      "estimate_parts_mib": {k: round(v / 2**20) for k, v in est.__dict__.items()}}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:])
