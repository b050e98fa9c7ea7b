"""Prompt-lookup decoding on real Refactor prompts: decode speed with and without drafts.

    python -m tests.benchmarks.bench_speculative [--functions 8] [--max-tokens 160] [WORKSPACE]

For functions of a workspace (default: this repository's lsp_server/), builds the Refactor action's
real prompt (ranked context, the model's prompt style) and generates greedily twice on the same
backend: plain, then with drafts. Greedy output must be identical; prints decode tokens/s of
both, the ratio, and how many draft tokens were accepted. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

from lsp_server.model.native import preload_llama_libraries

preload_llama_libraries()  # before numpy and tree-sitter: see lsp_server/model/native.py

from lsp_server.actions import refactor
from lsp_server.assistant import Assistant
from lsp_server.config import ModelSettings, Settings
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.backend import CancelToken, RunOptions


def functions(root: Path, count: int, seed: int = 7) -> list[tuple[Path, int, int]]:
    """(file, first line, last line) of functions of 6-40 lines, sampled with a fixed seed."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for definition in parse_python(path.read_text()).definitions:
            if definition.kind in ("function", "method") and 6 <= definition.end_line - definition.start_line <= 40:
                found.append((path, definition.start_line, definition.end_line))
    random.Random(seed).shuffle(found)
    return found[:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace", nargs="?", default=str(Path(__file__).resolve().parents[2] / "lsp_server"))
    parser.add_argument("--functions", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--sampler", default="auto", choices=["auto", "fast", "gpu-top-k", "llama"], help="model.sampler")
    args = parser.parse_args()
    root = Path(args.workspace).resolve()
    assistant = Assistant(Settings(model=ModelSettings(n_ctx=4096, temperature=0.0, keep_kv_state=False, sampler=args.sampler)))
    assistant.index_for([root]).build()
    backend = assistant.backend
    style = backend.load().prompt_style
    rows = []
    for path, first, last in functions(root, args.functions):
        text = path.read_text()
        packed = assistant.explain_context(path, text, (first, 0), (last, 0), [root])
        request = refactor.build_request(packed, None, style, args.max_tokens, 0.0)
        plain = backend.submit(request, lambda _: None, CancelToken()).result()
        drafted = backend.submit(request, lambda _: None, CancelToken(), RunOptions(speculative=True)).result()
        row = {
            "function": f"{path.relative_to(root)}:{first + 1}",
            "tokens": plain.completion_tokens,
            "plain_tok_s": round(plain.completion_tokens / plain.decode_seconds, 1),
            "drafted_tok_s": round(drafted.completion_tokens / drafted.decode_seconds, 1),
            "same_output": plain.text == drafted.text,
        }
        row["speedup"] = round(row["drafted_tok_s"] / row["plain_tok_s"], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    backend.close()
    print(json.dumps({
        "sampler": args.sampler,
        "functions": len(rows),
        "median_speedup": statistics.median(r["speedup"] for r in rows),
        "total_speedup": round(sum(r["tokens"] for r in rows) / sum(r["tokens"] / r["drafted_tok_s"] for r in rows)
                               / (sum(r["tokens"] for r in rows) / sum(r["tokens"] / r["plain_tok_s"] for r in rows)), 2),
        "all_same_output": all(r["same_output"] for r in rows),
    }))


if __name__ == "__main__":
    main()
