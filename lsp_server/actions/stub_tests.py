"""On-save stub tests: which public functions changed, and the stub tests to append for them.

Deterministic, no model. A stub is a test that skips itself with a reason
(``pytest.skip("stub: write this test for median(values)")``) and holds the call with the
right number of arguments, so the suite reports the missing test as skipped (never as passing)
until someone writes it. Only text is ever appended: an existing line is never changed.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from lsp_server.index.python_symbols import parse_python

SKIP_REASON = "stub: write this test for {call}"


def public_functions(text: str) -> dict[str, str]:
    """Top-level functions whose names do not start with ``_`` -> their code, as written."""
    parsed = parse_python(text)
    return {d.name: parsed.text_of(d) for d in parsed.definitions if d.kind == "function" and "." not in d.qualname and not d.name.startswith("_")}


def changed_functions(before: str, after: str) -> list[str]:
    """Public functions of ``after`` that are new or whose code differs from ``before``, in file order.

    Whitespace at line ends and blank lines do not count as a change.
    """
    old = {name: _normalized(code) for name, code in public_functions(before).items()}
    return [name for name, code in public_functions(after).items() if old.get(name) != _normalized(code)]


def _normalized(code: str) -> str:
    return "\n".join(line.rstrip() for line in textwrap.dedent(code).splitlines() if line.strip())


def defined_tests(test_text: str | None) -> set[str]:
    return {d.name for d in parse_python(test_text).definitions if d.kind in ("function", "method")} if test_text else set()


def needing_stubs(changed: list[str], referenced: set[str], test_text: str | None) -> list[str]:
    """The changed functions no test references and whose stub (``test_<name>``) is not there yet."""
    taken = defined_tests(test_text)
    mentioned = set(re.findall(r"\b\w+\b", test_text)) if test_text else set()
    return [name for name in changed if name not in referenced and name not in mentioned and f"test_{name}" not in taken]


def call_of(code: str, name: str) -> str:
    """``name(...)`` with an ``...`` per required positional argument and ``k=...`` per required keyword."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return f"{name}()"
    function = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if function is None:
        return f"{name}()"
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    required = len(positional) - len(args.defaults)
    parts = ["..."] * required
    parts += [f"{a.arg}=..." for a, default in zip(args.kwonlyargs, args.kw_defaults) if default is None]
    call = f"{name}({', '.join(parts)})"
    return f"await {call}" if isinstance(function, ast.AsyncFunctionDef) else call


def signature_of(code: str, name: str) -> str:
    match = re.search(rf"def\s+{re.escape(name)}\s*\((.*?)\)\s*(->[^:]*)?:", code, re.S)
    params = " ".join(match.group(1).split()) if match else ""
    return f"{name}({params})"


@dataclass(frozen=True)
class StubEdit:
    test_file: Path
    create: bool
    """The test file does not exist: create it with ``text``."""
    line: int
    character: int
    """Where ``text`` is inserted: (0, 0) for a new file, the end of an existing one."""
    text: str
    names: list[str]
    """The functions stubbed."""


def stub_edit(module: str, functions: dict[str, str], names: list[str], test_file: Path, test_text: str | None) -> StubEdit | None:
    """The text to append to (or create as) ``test_file`` with one stub per name; None for no names."""
    if not names:
        return None
    if test_text is None:
        header = f"import pytest\n\nfrom {module} import {', '.join(names)}\n"
        body = "".join(_stub(module, name, functions[name], local_imports=False) for name in names)
        return StubEdit(test_file, True, 0, 0, header + body, names)
    imported = _imported_from(test_text, module)
    has_pytest = bool(re.search(r"^import pytest\b", test_text, re.M))
    body = "".join(_stub(module, name, functions[name], local_imports=True, imported=imported, has_pytest=has_pytest) for name in names)
    line, character, separator = _end_of(test_text)
    return StubEdit(test_file, False, line, character, separator + body.lstrip("\n"), names)


def _stub(module: str, name: str, code: str, local_imports: bool, imported: set[str] = frozenset(), has_pytest: bool = True) -> str:
    call = call_of(code, name)
    lines = []
    if local_imports and not has_pytest:
        lines.append("import pytest")
    if local_imports and name not in imported:
        lines.append(f"from {module} import {name}")  # in the body: an appended stub never edits the file's imports
    lines.append(f"pytest.skip({SKIP_REASON.format(call=signature_of(code, name))!r})")
    lines.append(f"result = {call}")
    lines.append("assert result == ...")
    prefix = "async def" if call.startswith("await ") else "def"
    return f"\n\n{prefix} test_{name}():\n" + "".join(f"    {line}\n" for line in lines)


def _imported_from(text: str, module: str) -> set[str]:
    return {local for imp in parse_python(text).imports if imp.module == module and imp.level == 0 for local in imp.local_names()}


def _end_of(text: str) -> tuple[int, int, str]:
    """(line, UTF-16 column) of the end of ``text``, and the separator that gives two blank lines."""
    lines = text.split("\n")
    line, character = len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2
    trailing = len(text) - len(text.rstrip("\n"))
    if not text.strip():
        return line, character, ""
    return line, character, "\n" * max(0, 3 - trailing)


def under_package(path: Path) -> bool:
    """The file lies in a package: its directory has an ``__init__.py``."""
    return (path.parent / "__init__.py").is_file()


def wanted(setting: str | bool, path: Path, is_test: bool) -> bool:
    """Whether ``onSave.stubTests`` asks for stubs for ``path``."""
    if is_test or path.suffix != ".py" or setting is False:
        return False
    return setting is True or under_package(path)
