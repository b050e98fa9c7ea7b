"""``gemma-lsp bench model``: prefill and decode speed and time to first token, on this machine.

The prompt is real Python (this package's own source), tokenized and cut to the asked length.
Numbers are printed, never asserted: record them in tests/benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from lsp_server.config import Settings
from lsp_server.cli.doctor import nvidia_devices
from lsp_server.model.backend import CancelToken, GenerationRequest
from lsp_server.model.llama_backend import LlamaCppBackend

WARM_SUFFIX = "\n\ndef added_after_the_cached_prefix(value):\n    return value\n"


def source_text(min_chars: int) -> str:
    package = Path(__file__).resolve().parents[1]
    text = ""
    while len(text) < min_chars:
        for path in sorted(package.rglob("*.py")):
            text += path.read_text(encoding="utf-8") + "\n"
    return text


def bench_model(settings: Settings, prompt_tokens: int, gen_tokens: int) -> dict:
    backend = LlamaCppBackend(settings.model)
    started = time.perf_counter()
    info = backend.load()
    load_seconds = time.perf_counter() - started
    prompt = _prompt_of(backend, prompt_tokens)
    cold = _run(backend, prompt, gen_tokens)
    warm = _run(backend, prompt + WARM_SUFFIX, 1)
    backend.close()
    return {
        "model": {"name": info.name, "path": info.path, "n_ctx": info.n_ctx, "n_gpu_layers": info.n_gpu_layers},
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(), "gpus": nvidia_devices()},
        "load_seconds": round(load_seconds, 3),
        "prompt_tokens": cold.prompt_tokens,
        "prefill_seconds": round(cold.prefill_seconds, 3),
        "prefill_tokens_per_second": round(cold.prompt_tokens / cold.prefill_seconds, 1),
        "generated_tokens": cold.completion_tokens,
        "decode_tokens_per_second": round(cold.completion_tokens / cold.decode_seconds, 1) if cold.decode_seconds else None,
        "first_token_seconds_cold": round(cold.first_token_seconds, 3),
        "first_token_seconds_warm_prefix": round(warm.first_token_seconds, 3),
        "warm_prefix_reused_tokens": warm.cached_tokens,
    }


def _prompt_of(backend: LlamaCppBackend, tokens: int) -> str:
    text = source_text(tokens * 5)
    ids = backend._llm.tokenize(text.encode(), add_bos=False)[: max(1, tokens - 1)]
    return backend._llm.detokenize(ids).decode("utf-8", "ignore")


def _run(backend: LlamaCppBackend, text: str, max_tokens: int):
    # Temperature 0 and no stop strings: the answer's content does not matter, only its speed.
    request = GenerationRequest(text=text, max_tokens=max_tokens, temperature=0.0)
    return backend.submit(request, lambda _piece: None, CancelToken()).result()
