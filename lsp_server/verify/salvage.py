"""What can be kept of a generated test module before it is run (no model, no pygls).

A small model's suite often ends mid-test (the answer hit its token limit) or has a test that
uses a name it never defined. Refusing the whole suite for that throws away the tests that
were fine, so: cut the module back to its last complete top-level statement, and drop the test
functions that lint finds broken. What is left is triaged by running it (verifier.py).
Before lint, tests that exercise nothing of the target go (exercise.py) and names the target's
imports resolve get their import (repair.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lsp_server.index.python_symbols import parse_python

_TOP_LEVEL = re.compile(r"^(?=\S)(?!#)", re.MULTILINE)
"""Where a top-level statement may start: a line that is not indented and not a comment."""


@dataclass(frozen=True)
class Subject:
    """What generated tests are for."""

    name: str
    """As the user knows it (``Cart.total``), for the reasons shown."""
    names: frozenset[str]
    """Mentioning one of these exercises it (``exercise.subject_names``)."""
    imports: Mapping[str, str] = field(default_factory=dict)
    """Name -> the import line binding it, for names a test uses undefined (``repair.known_imports``)."""


def compiles(text: str) -> bool:
    try:
        compile(text, "<generated tests>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def complete_part(text: str) -> str:
    """``text`` if it compiles, else its longest prefix that ends before a top-level statement
    and compiles (an answer cut off mid-test loses that test only); "" when none does."""
    if compiles(text):
        return text
    starts = [m.start() for m in _TOP_LEVEL.finditer(text)]
    for start in reversed(starts):
        prefix = text[:start].rstrip() + "\n"
        if start and compiles(prefix):
            return prefix
    return ""


def tests_holding_lines(text: str, lines: set[int]) -> set[str] | None:
    """The names of the top-level test functions that hold every one of the 1-based ``lines``;
    None when a line is outside them (a broken import or helper: not one test's fault)."""
    tests = [d for d in parse_python(text).definitions
             if d.kind == "function" and d.qualname == d.name and d.name.startswith("test")]
    names: set[str] = set()
    for line in lines:
        holder = next((d for d in tests if d.start_line + 1 <= line <= d.end_line + 1), None)
        if holder is None:
            return None
        names.add(holder.name)
    return names
