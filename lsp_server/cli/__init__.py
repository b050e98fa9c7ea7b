"""Command line: ``gemma-lsp serve | explain | change | index | context | doctor | build-cuda | bench``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from lsp_server import __version__
from lsp_server.config import Settings, settings_from_mapping
from lsp_server.errors import GemmaLspError

log = logging.getLogger("lsp_server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gemma-lsp", description="A local code assistant for Python, as a language server.")
    parser.add_argument("--version", action="version", version=f"gemma-lsp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    serve.add_argument("--stdio", action="store_true", help="speak over stdin/stdout (the default; accepted because clients pass it)")
    _model_options(serve)

    explain = sub.add_parser("explain", help="explain the definition at FILE:LINE[:COLUMN], streamed to the terminal")
    explain.add_argument("location", metavar="FILE:LINE[:COLUMN]")
    explain.add_argument("--context", action="store_true", help="print what was sent to the model (the manifest) to stderr")
    _model_options(explain)

    change = sub.add_parser("change", help="propose a change from an instruction (across files), verified; prints the diff, writes nothing")
    change.add_argument("location", metavar="FILE[:LINE]", help="the file, or the line of the function or class the instruction is about")
    change.add_argument("instruction", metavar="INSTRUCTION")
    change.add_argument("--json", action="store_true", help="print the proposal, its verification and the context manifest as JSON")
    change.add_argument("--format", choices=["symbols", "search_replace", "diff"], default=None, help="the answer format asked of the model")
    _model_options(change)

    index = sub.add_parser("index", help="index the Python files under PATH (default: .) and report files, definitions, time")
    index.add_argument("path", nargs="?", metavar="PATH")
    index.add_argument("--json", action="store_true", help="print files, bytes, symbols, seconds and skipped files as JSON")

    context = sub.add_parser("context", help="show the context Explain would pack for FILE:LINE[:COLUMN] (the manifest)")
    context.add_argument("location", metavar="FILE:LINE[:COLUMN]")
    context.add_argument("--budget", type=int, default=8192, help="token budget (default 8192)")
    context.add_argument("--json", action="store_true", help="print tokens, budget and items as JSON")
    context.add_argument("--text", action="store_true", help="also print the packed sections")

    doctor = sub.add_parser("doctor", help="check the model, GPU offload and versions")
    doctor.add_argument("--json", action="store_true", help="print the facts as JSON")
    _model_options(doctor)

    build = sub.add_parser("build-cuda", help="rebuild llama-cpp-python with CUDA, cuBLAS for long prompt batches (data-center GPUs)")
    build.add_argument("--cublas-from", type=int, default=None, metavar="TOKENS",
                       help="batches of this many tokens or more use cuBLAS, smaller ones llama.cpp's MMQ (default 384)")
    build.add_argument("--sdist", type=Path, help="llama-cpp-python's source archive (default: pip fetches the installed version's)")
    build.add_argument("--cmake-args", default="", help="more CMake arguments, e.g. --cmake-args=-DCMAKE_CUDA_ARCHITECTURES=90")
    build.add_argument("--no-build-isolation", action="store_true", help="build with the installed build tools (offline)")

    bench = sub.add_parser("bench", help="measure speed on this machine")
    bench.add_argument("what", choices=["model"], help="model: prefill, decode and time to first token")
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--prompt-tokens", type=int, default=1024)
    bench.add_argument("--gen-tokens", type=int, default=64)
    _model_options(bench)
    return parser


def _model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model settings (override the defaults)")
    group.add_argument("--model", dest="path", help="GGUF file (else $GEMMA_LSP_MODEL, else the bundled model)")
    group.add_argument("--lora", dest="lora_path", action="append", metavar="ADAPTER",
                       help="a GGUF LoRA adapter of the model (repeat for several; model.lora_path)")
    group.add_argument("--n-ctx", type=int)
    group.add_argument("--n-gpu-layers", type=int)
    group.add_argument("--max-tokens", type=int)
    group.add_argument("--temperature", type=float)
    group.add_argument("--prompt-style", choices=["auto", "chat", "completion"])


def settings_from_args(args: argparse.Namespace) -> Settings:
    names = ["path", "lora_path", "n_ctx", "n_gpu_layers", "max_tokens", "temperature", "prompt_style"]
    model = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    settings, problems = settings_from_mapping({"model": model})
    for problem in problems:
        print(f"gemma-lsp: {problem}", file=sys.stderr)
    return settings


#: Commands that may load a local model: llama.cpp's libraries must be open before numpy & co.
MODEL_COMMANDS = {"serve", "explain", "change", "doctor", "bench"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in MODEL_COMMANDS:
        from lsp_server.model.native import preload_llama_libraries

        preload_llama_libraries()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = settings_from_args(args)
    try:
        if args.command == "serve":
            from lsp_server.cli.serve import serve

            return serve(settings, args.tcp)
        if args.command == "explain":
            from lsp_server.cli.explain import explain

            return explain(settings, args.location, args.context)
        if args.command == "change":
            from lsp_server.cli.change import change_command

            return change_command(settings, args.location, args.instruction, args.json, *([args.format] if args.format else []))
        if args.command == "index":
            from lsp_server.cli.index import index_command

            return index_command(settings, args.path, args.json)
        if args.command == "context":
            from lsp_server.cli.context import context_command

            return context_command(settings, args.location, args.budget, args.json, args.text)
        if args.command == "doctor":
            from lsp_server.cli.doctor import doctor

            facts = doctor(settings)
            print(json.dumps(facts, indent=2) if args.json else _human(facts))
            return 0 if facts["model"]["loaded"] else 1
        if args.command == "build-cuda":
            from lsp_server.cli.build_cuda import CUBLAS_FROM, build_cuda

            cublas_from = CUBLAS_FROM if args.cublas_from is None else args.cublas_from
            return build_cuda(args.sdist, cublas_from, args.cmake_args, isolated=not args.no_build_isolation)
        if args.command == "bench":
            from lsp_server.cli.bench import bench_model

            result = bench_model(settings, args.prompt_tokens, args.gen_tokens)
            print(json.dumps(result, indent=2) if args.json else _human(result))
            return 0
    except GemmaLspError as exc:
        print(f"gemma-lsp: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gemma-lsp: interrupted", file=sys.stderr)
        return 130
    return 2


def _human(facts: dict, indent: str = "") -> str:
    lines = []
    for key, value in facts.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines.append(_human(value, indent + "  "))
        else:
            lines.append(f"{indent}{key}: {value}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
