"""``gemma-quantize``: the command line of the quantize package."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gemma-quantize", description="Make, choose and check Gemma GGUF files.")
    parser.add_subparsers(dest="command", title="commands (none yet: convert, quantize, plan, synth and eval are planned)")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
    return 0
