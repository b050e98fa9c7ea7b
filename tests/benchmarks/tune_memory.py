"""Peak memory of ``gemma-quantize tune`` on Gemma 4 sizes (issue 18: the README's table of what
each size needs to tune). Not pass/fail: prints a table (and writes JSON with --json).

Google's Gemma 4 weights are not on this machine, and transformers cannot read a Gemma 4 GGUF (the
E-models' per-layer FFN widths), so each size is built the way a user's checkpoint would be seen:
a random-weight transformers checkpoint of the named shape (``hf_config.gemma4_text_config``),
saved to a folder, and a random-weight GGUF of the same shape for tune's tokens and tensor names.
Then tune runs as a user runs it, ``tune OUT --examples SET --base GGUF --weights FOLDER``, in its
own process, and its manifest gives the peak memory (CUDA: ``max_memory_allocated``) and speed.
Random weights need the same memory as real ones: the same tensors, the same activations. The base
has no chat template, so a set built for the bundled 270M (completion prompts) trains it as is; the
chat turns would add a few tokens per example, within --max-tokens.

Usage (on a CUDA machine):
  python -m tests.benchmarks.tune_memory gemma4-e2b gemma4-e4b --examples set.jsonl \
      --tokenizer-from vocab.gguf --work /tmp/tm [--steps 10 --batch 4 --max-tokens 512 --rank 16]
``--shrink`` builds a few-layer version of each shape instead (checks the path on a CPU).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from quantize import shapes
from quantize.hf_config import gemma4_text_config
from quantize.synth import synth

TUNE = "import sys; from quantize.cli import main; sys.exit(main())"


def shrunk(shape: shapes.ModelShape) -> shapes.ModelShape:
    """A few-layer, narrow version of ``shape`` with the same kinds of layers (for a CPU check)."""
    return shapes.shape_with(shape, n_layer=6, n_embd=256, n_ff=512, n_head=2, n_head_kv=1, head_dim=64,
                             head_dim_global=128, n_embd_per_layer=min(shape.n_embd_per_layer, 32),
                             n_kv_shared_layers=min(shape.n_kv_shared_layers, 2), swa_layers=None, swa_period=3,
                             n_expert=min(shape.n_expert, 4), n_expert_used=min(shape.n_expert_used, 2),
                             n_ff_expert=min(shape.n_ff_expert, 128))


def write_checkpoint(shape: shapes.ModelShape, folder: Path) -> int:
    """A random-weight bfloat16 transformers checkpoint of ``shape`` (built on the GPU when there is
    one: initialising billions of weights on a CPU takes minutes); returns its parameter count."""
    import torch
    import transformers

    config = transformers.Gemma4TextConfig(**gemma4_text_config(shape))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = transformers.Gemma4ForCausalLM(config).to(torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(folder)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return params


def measure(name: str, args) -> dict:
    shape = shapes.load_shape(name)
    shape = shrunk(shape) if args.shrink else shape
    work = args.work / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    synth(shape, work / "base.gguf", "Q4_K_M", tokenizer_from=args.tokenizer_from)  # no chat template: the set's completion prompts fit it
    params = write_checkpoint(shape, work / "hf")
    built = time.perf_counter() - started
    out = work / "lora.gguf"
    command = [sys.executable, "-c", TUNE, "tune", str(out), "--examples", str(args.examples), "--base",
               str(work / "base.gguf"), "--weights", str(work / "hf"), "--max-steps", str(args.steps), "--batch",
               str(args.batch), "--max-tokens", str(args.max_tokens), "--rank", str(args.rank), "--alpha",
               str(2 * args.rank), "--json"]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        return {"shape": name, "params": params, "error": (done.stdout + done.stderr).strip()[-2000:] or f"exit {done.returncode}"}
    facts = json.loads(out.with_suffix(".json").read_text())
    shutil.rmtree(work, ignore_errors=True)
    return {"shape": name, "shrunk": args.shrink, "params": params, "build_seconds": round(built, 1),
            "device": facts["device"], "steps": facts["steps"], "batch": args.batch, "max_tokens": args.max_tokens,
            "rank": args.rank, "tokens": facts["tokens"], "seconds": facts["seconds"],
            "steps_per_second": facts["steps_per_second"], "peak_memory_mib": facts["peak_memory_mib"],
            "adapter_bytes": facts["bytes"]}


def table(rows: list[dict]) -> str:
    lines = ["| shape | parameters | device | steps x batch x max tokens, rank | steps/s | peak memory |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['shape']} | {r['params'] / 1e9:.2f}B | failed: {r['error'].splitlines()[-1]} | | | |")
            continue
        lines.append(f"| {r['shape']}{' (shrunk)' if r['shrunk'] else ''} | {r['params'] / 1e9:.2f}B | {r['device']} | "
                     f"{r['steps']} x {r['batch']} x {r['max_tokens']}, rank {r['rank']} | {r['steps_per_second']:.2f} | "
                     f"{r['peak_memory_mib']:,} MiB |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shapes", nargs="+", choices=[n for n in shapes.shape_names() if n.startswith("gemma4")])
    parser.add_argument("--examples", type=Path, required=True, help="a training set from tune --dataset-only")
    parser.add_argument("--tokenizer-from", type=Path, required=True, help="a GGUF whose vocabulary the base gets")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tune-memory"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--shrink", action="store_true", help="few-layer versions of the shapes (a CPU check)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    rows = []
    for name in args.shapes:
        rows.append(measure(name, args))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all("error" not in r for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
