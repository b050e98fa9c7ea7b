"""Held-out loss of a ``gemma-quantize tune`` adapter, through llama.cpp: the mean negative
log-likelihood per token of the repository's own answers (docstrings, tests, bodies) given the
actions' prompts, for the base model alone and with the adapter, on repositories that were not
in the training set. Lower is better; it says whether the adapter learned the answers' form,
not whether its answers verify (that is bench_answers' job). Prints, does not assert.

    python tests/benchmarks/bench_tune_loss.py ADAPTER.gguf REPO [REPO ...] [--base B.gguf] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np


def answer_nll(llm, prompt: list[int], answer: list[int]) -> float:
    """Summed -log p(answer | prompt) under ``llm`` (a Llama made with logits_all=True)."""
    llm.reset()
    llm.eval(prompt + answer)
    logits = np.asarray(llm.scores[len(prompt) - 1:len(prompt) + len(answer) - 1], dtype=np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(sum(log_norm[i] - logits[i, token] for i, token in enumerate(answer)))


def main() -> None:
    import llama_cpp

    from lsp_server.model.resolve import bundled_model_path
    from quantize.tune.dataset import build_examples
    from quantize.tune.run import prompt_style
    from quantize.tune.train import tokenize_examples

    parser = argparse.ArgumentParser()
    parser.add_argument("adapter", type=Path)
    parser.add_argument("repos", type=Path, nargs="+")
    parser.add_argument("--base", type=Path)
    parser.add_argument("--limit", type=int, default=60, help="examples per task (default 60)")
    parser.add_argument("--max-tokens", type=int, default=512)
    args = parser.parse_args()
    base = args.base or bundled_model_path()
    _, style = prompt_style(base)
    examples = [e for repo in args.repos for e in build_examples(repo.resolve(), style, 384)]
    chosen = [e for task in ("explain", "generate_tests", "implement") for e in [x for x in examples if x.task == task][:args.limit]]
    pairs = tokenize_examples(base, chosen, args.max_tokens)
    results = {}
    for label, lora in (("base", None), ("adapter", str(args.adapter))):
        llm = llama_cpp.Llama(str(base), n_ctx=args.max_tokens + 64, logits_all=True, lora_path=lora, verbose=False)
        started = time.perf_counter()
        per_task: dict[str, list[float]] = {}
        for prompt, answer, task in pairs:
            per_task.setdefault(task, []).append(answer_nll(llm, prompt, answer) / len(answer))
        results[label] = {task: round(sum(v) / len(v), 4) for task, v in per_task.items()}
        results[label]["seconds"] = round(time.perf_counter() - started, 1)
        llm.close()
    counts = {task: sum(p.task == task for p in pairs) for task in ("explain", "generate_tests", "implement")}
    print(json.dumps({"examples": counts, "nll_per_token": results,
                      "perplexity": {k: {t: round(math.exp(v), 3) for t, v in r.items() if t != "seconds"} for k, r in results.items()}},
                     indent=2))


if __name__ == "__main__":
    main()
