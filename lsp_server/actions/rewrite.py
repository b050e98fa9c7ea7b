"""Replacing a target's lines with new code: shared by Refactor and Implement."""

from __future__ import annotations

import textwrap

from lsp_server.context.target import Target


def indentation_of(file_text: str, line: int) -> str:
    lines = file_text.splitlines()
    first = lines[line] if line < len(lines) else ""
    return first[: len(first) - len(first.lstrip())]


def reindent(code: str, indent: str) -> str:
    body = textwrap.dedent(code).strip("\n")
    return textwrap.indent(body, indent, lambda line: bool(line.strip())) + "\n"


def replace_lines(file_text: str, target: Target, code: str) -> str:
    """The file with the target's whole lines replaced by ``code`` at the target's indentation."""
    lines = file_text.splitlines(keepends=True)
    new_code = reindent(code, indentation_of(file_text, target.start_line))
    return "".join(lines[: target.start_line]) + new_code + "".join(lines[target.end_line + 1 :])


def defines(code: str, name: str) -> bool:
    """Whether ``code`` still defines ``name`` at its top level (a rewrite must keep the target)."""
    from lsp_server.index.python_symbols import parse_python

    return any(d.qualname == name for d in parse_python(textwrap.dedent(code)).definitions)
