"""Hover: immediate static facts about the symbol under the cursor, plus a short model
explanation cached by the content hash of its code (never computed twice for the same code)."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import tree_sitter

from lsp_server.actions import explain
from lsp_server.context.imports import ReadText, imported_definitions
from lsp_server.context.pack import PackedContext
from lsp_server.context.target import Target
from lsp_server.index.python_symbols import PYTHON, parse_python
from lsp_server.index.symbols import Definition


@dataclass(frozen=True)
class HoverSubject:
    path: Path
    definition: Definition
    code: str
    bases: tuple[str, ...]
    """Base classes of the class that defines it (or of the class itself)."""
    owner: str | None
    """The class that defines a method."""


def subject_at(path: Path, text: str, line: int, column: int, roots: list[Path], read_text: ReadText) -> HoverSubject | None:
    """The definition named at the cursor: a definition's name, or a name defined here or imported."""
    parsed = parse_python(text)
    name = _name_at(parsed.source, line, column)
    if name is None:
        return None
    local = [d for d in parsed.definitions if d.name == name and d.kind != "constant"]
    if local:
        definition = min(local, key=lambda d: abs(d.start_line - line))
        return _subject(path, parsed, definition)
    for imported in imported_definitions(parsed.imports, path, roots, read_text):
        if imported.qualname == name:
            source = read_text(imported.path) or ""
            other = parse_python(source)
            found = other.find(name)
            if found is not None:
                return _subject(imported.path, other, found)
    return None


def _name_at(source: bytes, line: int, column: int) -> str | None:
    lines = source.split(b"\n")
    if line >= len(lines):
        return None
    byte_column = len(lines[line].decode("utf-8", "replace")[:column].encode("utf-8"))
    tree = tree_sitter.Parser(PYTHON).parse(source)
    node = tree.root_node.descendant_for_point_range((line, byte_column), (line, byte_column))
    if node is None or node.type != "identifier":
        return None
    return node.text.decode("utf-8", "replace")


def _subject(path: Path, parsed, definition: Definition) -> HoverSubject:
    owner_name = definition.qualname.rsplit(".", 1)[0] if "." in definition.qualname else None
    class_name = owner_name if definition.kind == "method" else definition.qualname if definition.kind == "class" else None
    bases = _bases(parsed.source, parsed.find(class_name)) if class_name else ()
    return HoverSubject(path, definition, parsed.text_of(definition), bases, owner_name if definition.kind == "method" else None)


def _bases(source: bytes, class_definition: Definition | None) -> tuple[str, ...]:
    if class_definition is None:
        return ()
    node = tree_sitter.Parser(PYTHON).parse(source).root_node.descendant_for_byte_range(class_definition.start_byte, class_definition.end_byte)
    while node is not None and node.type != "class_definition":
        node = next((c for c in node.children if c.type == "class_definition"), None) if node.type == "decorated_definition" else None
    arguments = node.child_by_field_name("superclasses") if node is not None else None
    return tuple(c.text.decode() for c in arguments.named_children) if arguments is not None else ()


def signature(code: str) -> str:
    """The def/class line(s) up to the colon that opens the body."""
    lines = [line for line in code.splitlines() if not line.lstrip().startswith("@")]
    head = []
    for line in lines:
        head.append(line.strip())
        if line.rstrip().endswith(":"):
            break
    return " ".join(head)


def static_markdown(subject: HoverSubject, history: list[str] | None = None) -> str:
    definition = subject.definition
    parts = [f"```python\n{signature(subject.code)}\n```"]
    where = f"{definition.kind} in `{subject.path.name}`, line {definition.start_line + 1}"
    if subject.owner:
        where += f", defined by class `{subject.owner}`"
    if subject.bases:
        where += f" (bases: {', '.join(f'`{b}`' for b in subject.bases)})"
    parts.append(where)
    if definition.docstring:
        parts.append(definition.docstring)
    if history:
        parts.append("Last changes: " + "; ".join(history))
    return "\n\n".join(parts)


def content_key(subject: HoverSubject, model_path: str) -> str:
    return hashlib.sha256(f"{model_path}\0{subject.definition.qualname}\0{subject.code}".encode()).hexdigest()


def explain_packed(subject: HoverSubject) -> PackedContext:
    """The hover explanation sees only the definition: it must be quick."""
    target = Target(subject.path, subject.definition.qualname, subject.definition.kind, subject.definition.start_line, subject.definition.end_line, subject.code, subject.definition)
    return PackedContext(target, [], [])


class ExplanationCache:
    """Explanations by content key; ``pending`` keeps one generation per key in flight."""

    def __init__(self, limit: int = 512) -> None:
        self._items: dict[str, str] = {}
        self._lock = threading.Lock()
        self.pending: dict[str, object] = {}
        self._limit = limit

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: str, text: str) -> None:
        with self._lock:
            if len(self._items) >= self._limit:
                self._items.pop(next(iter(self._items)))
            self._items[key] = text


def hover_request(subject: HoverSubject, style: str, max_tokens: int, temperature: float):
    return explain.build_request(explain_packed(subject), style, max_tokens, temperature)
