"""Everything the index keeps about one Python file: definitions, imports, references, bases.

Facts are plain picklable data (the persistent cache and the parsing processes exchange them);
they hold no source text, which the context layer reads when it packs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files

import tree_sitter

from lsp_server.index.python_symbols import PYTHON, Definition, Import, outer_node, symbols_of_tree

DEFINING = {"function_definition": "name", "class_definition": "name", "assignment": "left"}


@dataclass(frozen=True)
class FileFacts:
    path: str
    size: int
    mtime_ns: int
    definitions: tuple[Definition, ...]
    imports: tuple[Import, ...]
    uses: dict[str, frozenset[str]] = field(default_factory=dict)
    """Scope qualname ("" for module level) -> names and attribute names used directly in it."""
    bases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Class qualname -> its base classes' last name part (``abc.ABC`` -> ``ABC``)."""
    decorators: dict[str, tuple[str, ...]] = field(default_factory=dict)
    has_errors: bool = False

    @property
    def is_test_file(self) -> bool:
        name = self.path.rsplit("/", 1)[-1]
        return name.startswith("test_") or name.endswith("_test.py") or "/tests/" in self.path

    def find(self, qualname: str) -> Definition | None:
        return next((d for d in self.definitions if d.qualname == qualname), None)

    def innermost_at(self, line: int) -> Definition | None:
        enclosing = [d for d in self.definitions if d.kind != "constant" and d.contains_line(line)]
        return max(enclosing, key=lambda d: d.start_line, default=None)


@lru_cache(maxsize=1)
def _references_query() -> tree_sitter.Query:
    source = files("lsp_server.index").joinpath("queries/python-references.scm").read_text()
    return tree_sitter.Query(PYTHON, source)


def parse_tree(data: bytes, old_tree: tree_sitter.Tree | None = None) -> tree_sitter.Tree:
    return tree_sitter.Parser(PYTHON).parse(data, old_tree) if old_tree else tree_sitter.Parser(PYTHON).parse(data)


def extract_facts(path: str, data: bytes, size: int = 0, mtime_ns: int = 0, tree: tree_sitter.Tree | None = None) -> FileFacts:
    """Parse ``data`` (or reuse ``tree``) and collect the file's facts."""
    tree = tree or parse_tree(data)
    parsed = symbols_of_tree(data, tree)
    captures = tree_sitter.QueryCursor(_references_query()).captures(tree.root_node)
    scopes = _ScopeFinder(parsed.definitions)
    return FileFacts(
        path=path,
        size=size or len(data),
        mtime_ns=mtime_ns,
        definitions=parsed.definitions,
        imports=parsed.imports,
        uses=_uses(captures, scopes, data),
        bases=_owned_names(captures.get("base", []), scopes, data, _class_of_base),
        decorators=_owned_names(captures.get("decorator", []), scopes, data, _definition_of_decorator),
        has_errors=parsed.has_errors,
    )


class _ScopeFinder:
    """The innermost definition around a byte offset (definitions come sorted by start)."""

    def __init__(self, definitions: tuple[Definition, ...]) -> None:
        self._spans = [(d.start_byte, d.end_byte, d.qualname) for d in definitions if d.kind != "constant"]

    def sweep(self, offsets: list[int]) -> list[str]:
        """The scope of each offset (sorted ascending) in one pass: spans nest, so a stack does."""
        stack: list[tuple[int, int, str]] = []
        result, spans, next_span = [], self._spans, 0
        for offset in offsets:
            while next_span < len(spans) and spans[next_span][0] <= offset:
                stack.append(spans[next_span])
                next_span += 1
            while stack and stack[-1][1] <= offset:
                stack.pop()
            result.append(stack[-1][2] if stack else "")
        return result

    def at(self, offset: int) -> str:
        best = ""
        for start, end, qualname in self._spans:
            if start > offset:
                break
            if offset < end:
                best = qualname
        return best


def _uses(captures: dict[str, list[tree_sitter.Node]], scopes: _ScopeFinder, data: bytes) -> dict[str, frozenset[str]]:
    found: dict[str, set[bytes]] = {}
    nodes = captures.get("reference.name", []) + captures.get("reference.attribute", [])
    spans = sorted((node.start_byte, node.end_byte) for node in nodes if not _is_being_defined(node))
    for (start, end), scope in zip(spans, scopes.sweep([start for start, _ in spans])):
        found.setdefault(scope, set()).add(data[start:end])
    return {scope: frozenset(name.decode("utf-8", "replace") for name in names) for scope, names in found.items()}


def _is_being_defined(node: tree_sitter.Node) -> bool:
    """The name of a def/class, or the target of an assignment: a definition, not a use."""
    parent = node.parent
    if parent is None or parent.type not in DEFINING:
        return False
    return parent.child_by_field_name(DEFINING[parent.type]) == node


def _owned_names(nodes: list[tree_sitter.Node], scopes: _ScopeFinder, data: bytes, owner_of) -> dict[str, tuple[str, ...]]:
    result: dict[str, list[str]] = {}
    for node in nodes:
        owner = owner_of(node)
        if owner is None:
            continue
        name = data[node.start_byte : node.end_byte].decode("utf-8", "replace").rsplit(".", 1)[-1]
        result.setdefault(scopes.at(outer_node(owner).start_byte + 1), []).append(name)
    return {qualname: tuple(names) for qualname, names in result.items() if qualname}


def _class_of_base(node: tree_sitter.Node) -> tree_sitter.Node | None:
    arguments = node.parent
    return arguments.parent if arguments is not None else None


def _definition_of_decorator(node: tree_sitter.Node) -> tree_sitter.Node | None:
    decorator = node if node.type == "decorator" else node.parent
    while decorator is not None and decorator.type != "decorator":
        decorator = decorator.parent
    decorated = decorator.parent if decorator is not None else None
    return decorated.child_by_field_name("definition") if decorated is not None else None
