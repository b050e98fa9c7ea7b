"""Imports a model's answer forgot, added where the name resolves to one import (no model, no pygls).

A small model writes ``Decimal("1.10")`` or calls a helper of the module under test without
importing it; lint then finds an undefined name (F821) and the test (or the rewrite) is lost
for want of one line. The rule, conservative because a wrong import makes a test fail and a
failing generated test is shown as a possible bug:

1. The target module's own namespace decides first: the names its top-level imports bind
   (relative imports made absolute) and its top-level definitions (``from <module> import
   name``). That is what the name means in the code under test.
2. Otherwise a top-level definition of a workspace module the context holds, or a name of the
   small standard-library table below, is used only when exactly one import line is offered
   for the name: a workspace ``Path`` beside pathlib's is ambiguous and nothing is added.

The table holds names that mean one thing in practice. Left out on purpose: ``Counter`` (the
few-shot examples define a class of that name), ``time``, ``copy``, ``string``, ``field``
(common local names that also name a module or a function).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping

STDLIB: dict[str, str] = {
    **{name: f"import {name}" for name in (
        "math", "re", "os", "sys", "json", "random", "itertools", "functools", "collections",
        "operator", "textwrap", "tempfile", "statistics", "decimal", "fractions", "pathlib", "pytest",
    )},
    "Decimal": "from decimal import Decimal", "InvalidOperation": "from decimal import InvalidOperation",
    "Fraction": "from fractions import Fraction",
    "datetime": "from datetime import datetime", "date": "from datetime import date",
    "timedelta": "from datetime import timedelta", "timezone": "from datetime import timezone",
    "Path": "from pathlib import Path", "PurePath": "from pathlib import PurePath",
    "OrderedDict": "from collections import OrderedDict", "defaultdict": "from collections import defaultdict",
    "namedtuple": "from collections import namedtuple", "deque": "from collections import deque",
    "dataclass": "from dataclasses import dataclass", "partial": "from functools import partial",
    "reduce": "from functools import reduce", "Enum": "from enum import Enum",
    "StringIO": "from io import StringIO", "BytesIO": "from io import BytesIO",
    "Mock": "from unittest.mock import Mock", "MagicMock": "from unittest.mock import MagicMock",
    "patch": "from unittest.mock import patch",
}
DATETIME_MODULE_ONLY = frozenset({"date", "time", "datetime", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR", "UTC"})
"""``datetime.X`` with one of these means the module (``import datetime``), not the class."""
_UNDEFINED = re.compile(r"Undefined name `([^`]+)`")


def known_imports(module: str, package: str, module_source: str, workspace: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Name -> the one import line that binds it for a test of (or a rewrite in) ``module``.

    ``package``: the package relative imports of the module start from; ``workspace``:
    (dotted module, top-level name) pairs of other workspace modules.
    """
    offered: dict[str, set[str]] = {}
    for other, name in workspace:
        if other != module:
            offered.setdefault(name, set()).add(f"from {other} import {name}")
    for name, line in STDLIB.items():
        offered.setdefault(name, set()).add(line)
    unique = {name: next(iter(lines)) for name, lines in offered.items() if len(lines) == 1}
    return {**unique, **module_namespace(module, package, module_source)}


def module_namespace(module: str, package: str, source: str) -> dict[str, str]:
    """The names the module binds at top level -> an import line binding the same object;
    empty when the source does not parse (the editor's text mid-edit)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = f"from {module} import {node.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    names[target.id] = f"from {module} import {target.id}"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(_import_lines(node, package))
    return names


def _import_lines(node: ast.Import | ast.ImportFrom, package: str) -> dict[str, str]:
    if isinstance(node, ast.Import):
        return {(a.asname or a.name.split(".")[0]): f"import {a.name}" + (f" as {a.asname}" if a.asname else "") for a in node.names}
    source = absolute_module(package, node.level, node.module or "")
    if source is None:
        return {}
    return {(a.asname or a.name): f"from {source} import {a.name}" + (f" as {a.asname}" if a.asname else "")
            for a in node.names if a.name != "*"}


def absolute_module(package: str, level: int, module: str) -> str | None:
    """``from ..x import y`` in package ``a.b.c`` -> ``a.b.x``; None when it climbs above the root."""
    if level == 0:
        return module or None
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    dotted = ".".join([*base, module] if module else base)
    return dotted or None


def undefined_names(problems: list[dict]) -> set[str]:
    """The names ruff's F821 findings (``lint_problems``) say nobody defined."""
    found = set()
    for problem in problems:
        match = _UNDEFINED.search(problem.get("message", "")) if problem.get("code") == "F821" else None
        if match:
            found.add(match.group(1))
    return found


def import_lines_for(names: Iterable[str], known: Mapping[str, str], text: str) -> list[str]:
    """The import lines binding ``names`` (those ``known`` resolves), sorted, one each."""
    lines = set()
    for name in names:
        line = known.get(name)
        if line == STDLIB["datetime"] and _uses_datetime_module(text):
            line = "import datetime"
        if line:
            lines.add(line)
    return sorted(lines)


def _uses_datetime_module(text: str) -> bool:
    return any(m.group(1) in DATETIME_MODULE_ONLY for m in re.finditer(r"\bdatetime\.(\w+)", text))


def insertion_line(text: str) -> int | None:
    """The 0-based line new imports go before: after the module's leading imports (docstring,
    ``__future__`` and other imports, before the first other statement), else after its
    docstring, else the first line. None when the text does not parse (no safe place known)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    line = 0
    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        if not (docstring or isinstance(node, (ast.Import, ast.ImportFrom))):
            break
        line = node.end_lineno or line
    return line


def add_imports(text: str, names: Iterable[str], known: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with import lines for the ``names`` that ``known`` resolves, and those lines."""
    lines = import_lines_for(names, known, text)
    at = insertion_line(text)
    if not lines or at is None:
        return text, []
    source = text.splitlines(keepends=True)
    block = "".join(f"{line}\n" for line in lines)
    if at and at <= len(source) and not source[at - 1].endswith("\n"):
        block = "\n" + block
    return "".join(source[:at]) + block + "".join(source[at:]), lines
