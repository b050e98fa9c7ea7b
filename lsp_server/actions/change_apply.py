"""Applying a Change answer's edits to the files' text: no model, no disk writes.

A ``code`` edit merges whole definitions into a file: a function or class replaces the top-level
one of the same name (or the method of that name, when only a class has one), a module-level
assignment replaces the one of the same name, a new import goes after the file's imports, a new
constant after the file's leading constants, anything else new at the end. A ``replace`` edit
finds its search text exactly, else line by line ignoring trailing whitespace, else ignoring
indentation (the replacement is then shifted by the same indentation), and each such repair is
recorded. Paths are the answer's, resolved against the workspace and the files in play.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lsp_server.actions.change_format import Edit
from lsp_server.verify import repair

ReadText = Callable[[Path], "str | None"]
Definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class Applied:
    texts: dict[Path, str] = field(default_factory=dict)
    """Each file the edits change -> its whole new text."""
    created: set[Path] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    """Edits that could not be applied, in words."""
    repairs: list[str] = field(default_factory=list)


def apply_edits(edits: Iterable[Edit], root: Path, target: Path, in_play: Iterable[Path], read_text: ReadText) -> Applied:
    """The new text of every file ``edits`` change; ``read_text`` gives a file's current text
    (None: it does not exist), ``in_play`` the files the model was shown."""
    applied = Applied()
    shown = [target, *in_play]
    for edit in edits:
        path = resolve_path(edit.path, root, target, shown, read_text, applied.repairs)
        if path is None:
            applied.problems.append(f"the answer edits {edit.path}, outside the workspace")
            continue
        current = applied.texts[path] if path in applied.texts else read_text(path)
        if current is None and path not in applied.created:
            applied.created.add(path)
        if edit.kind == "replace" and not edit.search.strip() and current is not None:
            # An empty SEARCH on a file that exists is its code given whole (often the file
            # again): merged definition by definition, not appended twice.
            applied.repairs.append(f"an empty SEARCH for {_shown(path, root)}: its code merged by definition")
        whole = edit.kind == "code" or not edit.search.strip()
        new, problem = (merge_code(current, edit.text, applied.repairs) if whole
                        else replace_text(current, edit.search, edit.text, applied.repairs))
        if problem:
            applied.problems.append(f"{_shown(path, root)}: {problem}")
        else:
            applied.texts[path] = new
    return applied


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def resolve_path(written: str, root: Path, target: Path, shown: list[Path], read_text: ReadText, repairs: list[str]) -> Path | None:
    """The workspace file ``written`` means: the target's file when none is written, the file at
    that path, else a file shown to the model with that tail or name, else a new file there."""
    if not written:
        return target
    candidate = (root / written).resolve()
    if not candidate.is_relative_to(root.resolve()):
        return None
    if read_text(candidate) is not None or candidate in shown:
        return candidate
    tail = "/" + written
    for path in shown:
        if path.as_posix().endswith(tail) or path.name == written:
            repairs.append(f"path {written} read as {_shown(path, root)}")
            return path
    return candidate


def replace_text(text: str | None, search: str, replacement: str, repairs: list[str]) -> tuple[str, str]:
    """(new text, "") or ("", why not); an empty ``search`` is for a new file (``apply_edits``
    merges one for an existing file)."""
    if text is None:
        if search.strip():
            return "", "the answer searches a file that does not exist"
        return replacement, ""
    at = _line_start_find(text, search)
    if at is not None:
        return text[:at] + replacement + text[at + len(search) :], ""
    lines, wanted = text.splitlines(keepends=True), search.splitlines()
    for strip, words in ((str.rstrip, "trailing whitespace"), (str.strip, "indentation")):
        at = _find_lines(lines, wanted, strip)
        if at is not None:
            repairs.append(f"the SEARCH text matched ignoring {words}")
            shift = _indent(lines[at]) if strip is str.strip else None
            new = _shifted(replacement, _indent(wanted[0]) if wanted else "", shift)
            return "".join(lines[:at]) + new + "".join(lines[at + len(wanted) :]), ""
    first = next((line.strip() for line in wanted if line.strip()), "")
    return "", f"the SEARCH text is not in the file (it starts `{first[:60]}`)"


def _line_start_find(text: str, search: str) -> int | None:
    """Where ``search`` first occurs starting a line (a match inside a line would keep its head)."""
    at = text.find(search)
    while at != -1 and at > 0 and text[at - 1] != "\n":
        at = text.find(search, at + 1)
    return None if at == -1 else at


def _find_lines(lines: list[str], wanted: list[str], strip) -> int | None:
    target = [strip(w) for w in wanted]
    for at in range(len(lines) - len(wanted) + 1):
        if all(strip(lines[at + k].rstrip("\n")) == target[k] for k in range(len(wanted))):
            return at
    return None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _shifted(replacement: str, old_indent: str, new_indent: str | None) -> str:
    """The replacement moved from the search's indentation to the file's."""
    if new_indent is None or new_indent == old_indent:
        return replacement
    out = []
    for line in replacement.splitlines(keepends=True):
        lead = _indent(line)
        out.append(line if not line.strip() else new_indent + lead[len(old_indent):] + line.lstrip())
    return "".join(out)


def _append(text: str, code: str) -> str:
    return text.rstrip("\n") + "\n\n\n" + code.strip("\n") + "\n" if text.strip() else code


def merge_code(text: str | None, code: str, repairs: list[str]) -> tuple[str, str]:
    """``code``'s definitions and statements merged into ``text`` (None: a new file is ``code``)."""
    if text is None:
        return code, ""
    code = textwrap.dedent(code)
    try:
        new_tree, tree = ast.parse(code), ast.parse(text)
    except SyntaxError:
        # Either side unparsable: put it at the end, where the verifier's parse check reports
        # the answer's line; nothing of the file is lost.
        return _append(text, code), ""
    lines = text.splitlines(keepends=True)
    code_lines = code.splitlines(keepends=True)
    changes: list[tuple[int, int, str]] = []
    tail: list[str] = []
    imports: list[str] = []
    for node in new_tree.body:
        chunk = "".join(code_lines[_first_line(node) - 1 : node.end_lineno])
        place = _place(tree, node, lines, chunk, repairs)
        if place == "import":
            imports.append(chunk)
        elif place == "tail":
            tail.append(chunk)
        elif place is not None:
            changes.append(place)
    return _assemble(text, lines, tree, changes, imports, tail), ""


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])


def _place(tree: ast.Module, node: ast.stmt, lines: list[str], chunk: str, repairs: list[str]):
    """Where ``node`` goes: (start, end, text) replacing lines, "import", "tail" or None (already there)."""
    if any(ast.dump(node) == ast.dump(old) for old in tree.body):
        return None
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "import"
    name = _bound_name(node)
    old = next((o for o in tree.body if name and _bound_name(o) == name and type(o) in _kin(node)), None)
    if old is not None:
        return (_first_line(old) - 1, old.end_lineno, chunk)
    method = _method_named(tree, node)
    if method is not None:
        repairs.append(f"`{node.name}` replaces the method of that name")
        indent = _indent(lines[method.lineno - 1])
        return (_first_line(method) - 1, method.end_lineno, textwrap.indent(chunk, indent, lambda line: bool(line.strip())))
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and name:
        at = _constants_end(tree)
        return (at, at, chunk)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return None  # a module docstring of the answer's own: the file keeps its
    return "tail"


def _kin(node: ast.stmt) -> tuple[type, ...]:
    if isinstance(node, Definitions):
        return Definitions
    return (ast.Assign, ast.AnnAssign)


def _bound_name(node: ast.stmt) -> str:
    if isinstance(node, Definitions):
        return node.name
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    return names[0] if len(names) == 1 else ""


def _method_named(tree: ast.Module, node: ast.stmt) -> ast.stmt | None:
    """The one method called like ``node`` (a function whose first parameter is ``self``/``cls``)."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.args.args or node.args.args[0].arg not in ("self", "cls"):
        return None
    found = [m for c in tree.body if isinstance(c, ast.ClassDef) for m in c.body
             if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name == node.name]
    return found[0] if len(found) == 1 else None


def _constants_end(tree: ast.Module) -> int:
    """The line after the module's leading imports and constants (before the first definition)."""
    end = 0
    for node in tree.body:
        if isinstance(node, (*Definitions, ast.If, ast.For, ast.While, ast.With, ast.Try)):
            break
        end = node.end_lineno
    return end


def _assemble(text: str, lines: list[str], tree: ast.Module, changes: list, imports: list[str], tail: list[str]) -> str:
    """Apply line replacements bottom-up, then new imports, then the tail."""
    at = repair.insertion_line(text) or 0
    if imports:
        changes.append((at, at, "".join(imports)))
    latest = {(start, end): chunk for start, end, chunk in changes if start < end}  # a name defined twice: the last wins
    changes = [c for c in changes if c[0] == c[1]] + [(s, e, chunk) for (s, e), chunk in latest.items()]
    for start, end, chunk in sorted(changes, key=lambda c: (c[0], c[1]), reverse=True):
        if start < end:
            lines[start:end] = [_ended(chunk)]
        else:
            lines[start:start] = [_ended(chunk)]
    merged = "".join(lines)
    for chunk in tail:
        merged = _append(merged, chunk)
    return merged


def _ended(chunk: str) -> str:
    return chunk if chunk.endswith("\n") else chunk + "\n"
