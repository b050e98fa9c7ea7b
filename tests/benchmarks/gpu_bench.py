"""GPU benchmark: our in-process path against llama.cpp's own llama-bench, same file, same settings.

Run on the GPU machine (see ../shared/gpu/README.md):
    python tests/benchmarks/gpu_bench.py MODEL.gguf --prefill 8192 32768 --out results.json
Prints one JSON object: prefill tokens/s per length, decode tokens/s, first token with a warm
prefix, GPU memory, and llama-bench's numbers for the same lengths when --llama-bench is given.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsp_server.cli.bench import source_text  # noqa: E402
from lsp_server.cli.doctor import nvidia_devices  # noqa: E402
from lsp_server.config import ModelSettings  # noqa: E402
from lsp_server.model.backend import CancelToken, GenerationRequest  # noqa: E402
from lsp_server.model.llama_backend import LlamaCppBackend  # noqa: E402


def prompt_of(backend: LlamaCppBackend, tokens: int) -> str:
    ids = backend._llm.tokenize(source_text(tokens * 5).encode(), add_bos=False)[: tokens - 1]
    return backend._llm.detokenize(ids).decode("utf-8", "ignore")


def run(backend: LlamaCppBackend, text: str, max_tokens: int):
    request = GenerationRequest(text=text, max_tokens=max_tokens, temperature=0.0, ignore_eog=True)
    return backend.submit(request, lambda _p: None, CancelToken()).result()


def measure(model: str, n_ctx: int, prefill: int, settings: dict) -> dict:
    backend = LlamaCppBackend(ModelSettings(path=model, n_ctx=n_ctx, **settings))
    started = time.perf_counter()
    backend.load()
    loaded = time.perf_counter() - started
    text = prompt_of(backend, prefill)
    cold = run(backend, text, 128)
    warm = run(backend, text + "\n\ndef one_more_function(value):\n    return value * 2\n", 1)
    memory = nvidia_devices()
    backend.close()
    return {
        "prefill_tokens": cold.prompt_tokens,
        "prefill_tok_s": round(cold.prompt_tokens / cold.prefill_seconds, 1),
        "decode_tok_s": round(cold.completion_tokens / cold.decode_seconds, 1),
        "warm_first_token_ms": round(warm.first_token_seconds * 1000, 1),
        "warm_new_tokens": warm.prompt_tokens - warm.cached_tokens,
        "load_s": round(loaded, 2),
        "gpu_memory_used_mib": [d["memory_used_mib"] for d in memory],
    }


def llama_bench(binary: str, model: str, prefill: list[int], settings: dict) -> list[dict]:
    command = [binary, "-m", model, "-p", ",".join(map(str, prefill)), "-n", "128", "-ngl", "99",
               "-fa", "1" if settings.get("flash_attn", True) else "0", "-b", str(settings.get("n_batch", 512)),
               "-ub", str(settings.get("n_ubatch", 512)), "-r", "2", "-o", "json"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if output.returncode != 0:
        return [{"error": output.stderr[-2000:]}]
    return [{"n_prompt": r["n_prompt"], "n_gen": r["n_gen"], "avg_ts": round(r["avg_ts"], 1)} for r in json.loads(output.stdout)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--prefill", type=int, nargs="+", default=[8192])
    parser.add_argument("--n-batch", type=int, default=2048)
    parser.add_argument("--n-ubatch", type=int, nargs="+", default=[512])
    parser.add_argument("--kv", default="f16")
    parser.add_argument("--swa-full", choices=["true", "false"], default="true")
    parser.add_argument("--llama-bench")
    parser.add_argument("--out")
    args = parser.parse_args()
    results = {"model": args.model, "gpus": nvidia_devices(), "runs": []}
    for ubatch in args.n_ubatch:
        settings = {"n_batch": args.n_batch, "n_ubatch": ubatch, "kv_cache_type": args.kv, "flash_attn": True, "swa_full": args.swa_full == "true"}
        for length in args.prefill:
            run_result = {"settings": settings, **measure(args.model, length + 512, length, settings)}
            results["runs"].append(run_result)
            print(json.dumps(run_result), flush=True)
        if args.llama_bench:
            results.setdefault("llama_bench", []).append({"settings": settings, "results": llama_bench(args.llama_bench, args.model, args.prefill, settings)})
            print(json.dumps(results["llama_bench"][-1]), flush=True)
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
