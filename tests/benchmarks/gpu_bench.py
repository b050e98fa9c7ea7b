"""GPU benchmark: our in-process path against llama.cpp's own llama-bench, same file, same settings.

Run on the GPU machine (see ../shared/gpu/README.md and tests/benchmarks/gpu_run.sh):
    python tests/benchmarks/gpu_bench.py MODEL.gguf --prefill 8192 32768 --llama-bench PATH --out results.json
Prints one JSON line per run: prefill tokens/s, decode tokens/s at that depth (greedy and sampled),
first token with a warm prefix, the KV state's save and restore times, GPU memory. Each context
is warmed up first (two batches, then emptied), as llama-bench warms up. llama-bench gets the same
lengths: pp at each length (without its warm-up, which repeats the whole prompt, past 32K tokens),
tg128 at depth 8192 (its context settings: swa_full off).
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lsp_server.model.native import preload_llama_libraries  # noqa: E402

preload_llama_libraries()  # before numpy: see lsp_server/model/native.py

from lsp_server.cli.bench import source_text  # noqa: E402
from lsp_server.cli.doctor import nvidia_devices  # noqa: E402
from lsp_server.config import ModelSettings  # noqa: E402
from lsp_server.model import llama_backend  # noqa: E402
from lsp_server.model.backend import CancelToken, GenerationRequest, RunOptions  # noqa: E402
from lsp_server.model.llama_backend import LlamaCppBackend  # noqa: E402

NEW_TOKENS = "\n\ndef one_more_function(value):\n    # a question about the code above, about fifty tokens long\n    return sorted(value, key=len)[: value.count(None) + 1]\n"


def prompt_of(backend: LlamaCppBackend, tokens: int) -> str:
    ids = backend._llm.tokenize(source_text(tokens * 5).encode(), add_bos=False)[: tokens - 1]
    return backend._llm.detokenize(ids).decode("utf-8", "ignore")


def run(backend: LlamaCppBackend, text: str, max_tokens: int, temperature: float = 0.0):
    request = GenerationRequest(text=text, max_tokens=max_tokens, temperature=temperature)
    return backend.submit(request, lambda _p: None, CancelToken(), RunOptions(ignore_eog=True)).result()


def warm_up(backend: LlamaCppBackend, text: str, n_batch: int) -> float:
    """Prefill the prompt's first two batches once, then empty the cache, as llama-bench warms
    up before it times: a new context's first batches pay one-time costs (cuBLAS handles, CUDA
    memory pools, kernels loaded on first use) that the server pays in its background warm-up,
    before the user asks. Returns the seconds it took."""
    ids = backend._llm.tokenize(text.encode(), add_bos=False)[: 2 * n_batch]
    started = time.perf_counter()
    run(backend, backend._llm.detokenize(ids).decode("utf-8", "ignore"), 1)
    seconds = time.perf_counter() - started
    backend._engine.forget()
    return seconds


def rate(tokens: int, seconds: float) -> float:
    return round(tokens / seconds, 1) if seconds else 0.0


def measure(model: str, prefill: int, settings: dict, restore: bool) -> dict:
    n_ctx = prefill + 1024
    backend = LlamaCppBackend(ModelSettings(path=model, n_ctx=n_ctx, keep_kv_state=restore, **settings))
    started = time.perf_counter()
    backend.load()
    loaded = time.perf_counter() - started
    text = prompt_of(backend, prefill)
    warm_up_s = warm_up(backend, text, settings["n_batch"])
    cold = run(backend, text, 128)
    memory = nvidia_devices()
    sampled = run(backend, text + NEW_TOKENS, 128, temperature=0.2)
    warm = run(backend, text + NEW_TOKENS.replace("fifty", "sixty"), 1)
    result = {
        "prefill_tokens": cold.prompt_tokens,
        "prefill_tok_s": rate(cold.prompt_tokens, cold.prefill_seconds),
        "decode_greedy_tok_s": rate(cold.completion_tokens, cold.decode_seconds),
        "decode_sampled_tok_s": rate(sampled.completion_tokens, sampled.decode_seconds),
        "warm_first_token_ms": round(warm.first_token_seconds * 1000, 1),
        "warm_new_tokens": warm.prompt_tokens - warm.cached_tokens,
        "load_s": round(loaded, 2),
        "warm_up_s": round(warm_up_s, 2),
        "gpu_memory_used_mib": [d["memory_used_mib"] for d in memory],
    }
    if restore:
        result.update(restart(backend, model, n_ctx, settings, text))
    backend.close()
    return result


def restart(backend: LlamaCppBackend, model: str, n_ctx: int, settings: dict, text: str) -> dict:
    """Close (saves the stable prefix), load again (restores it), ask: no full prefill."""
    started = time.perf_counter()
    backend.close()
    saved = time.perf_counter() - started
    files = list(llama_backend.state_dir().glob("*.kvstate"))
    again = LlamaCppBackend(ModelSettings(path=model, n_ctx=n_ctx, keep_kv_state=True, **settings))
    extra = again.load().extra
    first = run(again, text + NEW_TOKENS.replace("fifty", "seventy"), 1)
    again.close()
    return {
        "close_and_save_s": round(saved, 2),
        "state_file_mib": round(sum(f.stat().st_size for f in files) / 2**20, 1),
        "restored_tokens": extra.get("restored_tokens", 0),
        "restore_s": extra.get("restore_seconds"),
        "first_token_after_restart_ms": round(first.first_token_seconds * 1000, 1),
        "prefilled_after_restart": first.prompt_tokens - first.cached_tokens,
    }


def llama_bench(binary: str, model: str, prefill: list[int], settings: dict, depth: int) -> list[dict]:
    base = [binary, "-m", model, "-ngl", "99", "-fa", "1" if settings.get("flash_attn", True) else "0",
            "-b", str(settings.get("n_batch", 2048)), "-ub", str(settings.get("n_ubatch", 512)),
            "-ctk", settings.get("kv_cache_type", "f16"), "-ctv", settings.get("kv_cache_type", "f16"), "-r", "1", "-o", "json"]
    # At 128K a warm-up run would double a minutes-long measurement for a one-time cost under 0.2 %
    cold_ok = ["--no-warmup"] if max(prefill) > 32768 else []
    runs = [["-p", ",".join(map(str, prefill)), "-n", "0", *cold_ok], ["-p", "0", "-n", "128", "-d", str(depth)]]
    results = []
    for extra in runs:
        output = subprocess.run(base + extra, capture_output=True, text=True, timeout=1800)
        if output.returncode != 0:
            results.append({"error": output.stderr[-2000:]})
            continue
        results += [{"n_prompt": r["n_prompt"], "n_gen": r["n_gen"], "n_depth": r.get("n_depth", 0), "avg_ts": round(r["avg_ts"], 1)}
                    for r in json.loads(output.stdout)]
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--prefill", type=int, nargs="+", default=[8192])
    parser.add_argument("--n-batch", type=int, default=2048)
    parser.add_argument("--n-ubatch", type=int, nargs="+", default=[512])
    parser.add_argument("--kv", default="f16")
    parser.add_argument("--swa-full", choices=["true", "false"], default="false")
    parser.add_argument("--flash-attn", nargs="+", default=["on"], choices=["on", "off"],
                        help="flash attention settings to compare (off: llama.cpp materialises the KQ scores and uses cuBLAS for them)")
    parser.add_argument("--restore", action="store_true", help="also time saving and restoring the KV state")
    parser.add_argument("--llama-bench")
    parser.add_argument("--depth", type=int, default=8192, help="llama-bench's tg128 depth")
    parser.add_argument("--sampler", nargs="+", default=["auto"], choices=["auto", "fast", "gpu-top-k", "llama"], help="model.sampler values to compare")
    parser.add_argument("--out")
    args = parser.parse_args()
    llama_backend.state_dir = lambda: Path(tempfile.gettempdir()) / "gemma-lsp-bench-state"
    results = {"model": args.model, "gpus": nvidia_devices(), "runs": []}
    for ubatch, flash in itertools.product(args.n_ubatch, args.flash_attn):
        settings = {"n_batch": args.n_batch, "n_ubatch": ubatch, "kv_cache_type": args.kv, "flash_attn": flash == "on",
                    "swa_full": args.swa_full == "true"}
        for length in args.prefill:
            for sampler in args.sampler:
                run_settings = {**settings, "sampler": sampler}
                run_result = {"settings": run_settings, **measure(args.model, length, run_settings, args.restore)}
                results["runs"].append(run_result)
                print(json.dumps(run_result), flush=True)
        if args.llama_bench:
            native = {"settings": settings, "results": llama_bench(args.llama_bench, args.model, args.prefill, settings, args.depth)}
            results.setdefault("llama_bench", []).append(native)
            print(json.dumps(native), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
