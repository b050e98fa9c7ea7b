"""Whether a generated test exercises the target at all (no model, no pygls).

A small model given few-shot examples sometimes copies them: ``test_is_even`` for a string
function. Such a test may even pass, and it tests nothing of the target, so it is dropped
before anything runs, with that reason. The rule is deliberately loose, to drop only clear
copies: a test exercises the target when it names the target, the class it lies in, or (for a
class) one of its methods, as a name or an attribute (``cart.total()``), directly or through a
helper, fixture or module-level name of the generated module that does.

The same small models echo the code under test into the test module; such a copy shadows the
import, so the tests would exercise the copy: it is removed (``shadowing_definitions``).
"""

from __future__ import annotations

import ast
import textwrap

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def subject_names(qualname: str, kind: str, code: str) -> frozenset[str]:
    """The names whose mention exercises the target ``qualname`` (each part of it; for a class,
    its methods other than dunders, read off ``code``)."""
    names = {part for part in qualname.split(".") if part}
    if kind == "class":
        names |= _method_names(code)
    return frozenset(names)


def _method_names(code: str) -> set[str]:
    try:
        tree = ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError):
        return set()
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if cls is None:
        return set()
    return {n.name for n in cls.body if isinstance(n, _FUNCTIONS) and not n.name.startswith("__")}


def unexercised_tests(text: str, names: frozenset[str]) -> list[str]:
    """The top-level ``test*`` functions of ``text`` that exercise none of ``names``; none when
    there are no names to look for or the text does not parse."""
    if not names:
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    uses = _module_level_uses(tree)
    reaching = _reaching(uses, names)
    return [node.name for node in tree.body
            if isinstance(node, _FUNCTIONS) and node.name.startswith("test") and not uses[node.name] & reaching]


def shadowing_definitions(text: str) -> list[str]:
    """Top-level functions and classes (tests aside) that rebind a name the module imported
    before: a small model echoes the code under test into its answer, and the tests would then
    exercise that copy, not the target. Empty when the text does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    imported: set[str] = set()
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imported |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)) and node.name in imported and not node.name.startswith("test"):
            found.append(node.name)
    return list(dict.fromkeys(found))


def without_definitions(text: str, names: set[str]) -> str:
    """``text`` without its top-level functions and classes called one of ``names`` (decorators
    and the blank lines after them included); ``text`` itself when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return text
    lines = text.splitlines(keepends=True)
    gone: set[int] = set()
    for node in tree.body:
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)) and node.name in names:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
            last = node.end_lineno or node.lineno
            while last < len(lines) and not lines[last].strip():
                last += 1
            gone.update(range(first, last))
    return "".join(line for number, line in enumerate(lines) if number not in gone)


def _module_level_uses(tree: ast.Module) -> dict[str, set[str]]:
    """Each top-level name bound in the module -> the names its definition refers to (its
    parameters included: a test's parameters are fixtures)."""
    uses: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            uses.setdefault(node.name, set()).update(_referenced(node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    uses.setdefault(target.id, set()).update(_referenced(node.value) if node.value else ())
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:  # ``from m import target as t``: t is the target
                uses.setdefault(alias.asname or alias.name, set()).add(alias.name)
    return uses


def _referenced(node: ast.AST) -> set[str]:
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.arg):
            found.add(child.arg)
    return found


def _reaching(uses: dict[str, set[str]], names: frozenset[str]) -> set[str]:
    """``names`` and every module-level name whose definition reaches one of them."""
    reaching = set(names)
    grew = True
    while grew:
        grew = False
        for name, used in uses.items():
            if name not in reaching and not name.startswith("test") and used & reaching:
                reaching.add(name)
                grew = True
    return reaching
