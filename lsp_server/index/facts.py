"""Everything the index keeps about one Python file: definitions, imports, references, bases.

Facts are plain picklable data (the persistent cache and the parsing processes exchange them);
they hold no source text, which the context layer reads when it packs.

References (``uses``) are read lazily, the first time a request asks for them: they need only the
file's bytes and its definitions, not the tree, and most files of a large workspace are never
asked about. So building the index costs about a parse, and a request pays a millisecond or two
for each file it reads the references of, once.
"""

from __future__ import annotations

import keyword
import logging
import os
import re
from dataclasses import dataclass, field

import tree_sitter

from lsp_server.index.python_symbols import PYTHON, Definition, Import, scan_tree

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileFacts:
    path: str
    size: int
    mtime_ns: int
    """0 for the editor's text of an open document (its references are read from ``source``)."""
    definitions: tuple[Definition, ...]
    imports: tuple[Import, ...]
    bases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Class qualname -> its base classes' last name part (``abc.ABC`` -> ``ABC``)."""
    decorators: dict[str, tuple[str, ...]] = field(default_factory=dict)
    has_errors: bool = False
    name_spans: tuple[tuple[int, int], ...] = ()
    """Byte spans of the names being defined: a definition of the name, not a use."""
    source: bytes | None = field(default=None, compare=False, repr=False)
    """The text the facts were read from, kept only for open documents (never pickled)."""

    @property
    def uses(self) -> dict[str, frozenset[str]]:
        """Scope qualname ("" for module level) -> names and attribute names used directly in it."""
        found = self.__dict__.get("_uses")
        if found is None:
            data = self.source if self.source is not None else _read_unchanged(self.path, self.size, self.mtime_ns)
            found = scope_uses(data, self.definitions, self.name_spans) if data is not None else {}
            object.__setattr__(self, "_uses", found)
        return found

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("source", "_uses")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("source", None)

    @property
    def is_test_file(self) -> bool:
        name = self.path.rsplit("/", 1)[-1]
        return name.startswith("test_") or name.endswith("_test.py") or "/tests/" in self.path

    def find(self, qualname: str) -> Definition | None:
        return next((d for d in self.definitions if d.qualname == qualname), None)

    def innermost_at(self, line: int) -> Definition | None:
        enclosing = [d for d in self.definitions if d.kind != "constant" and d.contains_line(line)]
        return max(enclosing, key=lambda d: d.start_line, default=None)


def _read_unchanged(path: str, size: int, mtime_ns: int) -> bytes | None:
    """The file's bytes if it is still what the facts were read from (else the index refreshes it)."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            if stat.st_size != size or stat.st_mtime_ns != mtime_ns:
                return None
            return handle.read()
    except OSError as exc:
        log.info("cannot read %s for its references: %s", path, exc)
        return None


def parse_tree(data: bytes, old_tree: tree_sitter.Tree | None = None) -> tree_sitter.Tree:
    return tree_sitter.Parser(PYTHON).parse(data, old_tree) if old_tree else tree_sitter.Parser(PYTHON).parse(data)


def extract_facts(
    path: str, data: bytes, size: int = 0, mtime_ns: int = 0, tree: tree_sitter.Tree | None = None, keep_source: bool | None = None
) -> FileFacts:
    """Parse ``data`` (or reuse ``tree``) and collect the file's facts.

    ``keep_source``: keep ``data`` for reading references later; by default when there is no
    file to read them from (``mtime_ns`` 0, the editor's text)."""
    tree = tree or parse_tree(data)
    scan = scan_tree(data, tree)
    return FileFacts(
        path=path,
        size=size or len(data),
        mtime_ns=mtime_ns,
        definitions=scan.definitions,
        imports=scan.imports,
        bases=scan.bases,
        decorators=scan.decorators,
        has_errors=tree.root_node.has_error,
        name_spans=scan.name_spans,
        source=data if (keep_source if keep_source is not None else not mtime_ns) else None,
    )


# Names used in code, read from the bytes at C speed rather than as tree nodes (a file has
# thousands of identifiers; a Python object for each was most of the indexing cost). Comments and
# strings (with their prefixes) are blanked first so that their words are skipped, f-strings included (the names in
# their {...} fields are lost: rare as the only mention). Keywords and numbers are dropped.
# Assignment targets count as uses (the tree-based reading left them out): a local name that
# shadows a workspace name links the two either way.
_STRING = rb'''"""(?:[^\\]|\\.)*?"""|\'\'\'(?:[^\\]|\\.)*?\'\'\'|"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*\''''
_COMMENT_OR_STRING = re.compile(rb"#[^\r\n]*|[rRbBuUfF]{0,2}(?:" + _STRING + rb")", re.S)
_ONLY_NAME_BYTES = bytes(c if chr(c).isalnum() or c == ord("_") or c >= 128 else ord(" ") for c in range(256))
_KEYWORDS = frozenset(k.encode() for k in keyword.kwlist)


def scope_uses(data: bytes, definitions: tuple[Definition, ...], name_spans: tuple[tuple[int, int], ...]) -> dict[str, frozenset[str]]:
    """Scope qualname ("" for module level) -> names used directly in it (not in nested definitions)."""
    masked = bytearray(data)
    for start, end in name_spans:  # the name a def, class or constant defines is not a use of it
        masked[start:end] = b" " * (end - start)
    # Blank comments and strings span by span: the spans never cut a string (they start at a def,
    # class or decorator and end where a definition ends).
    result = {}
    for scope, segments in _scope_segments(definitions, len(data)).items():
        words: set[bytes] = set()
        for start, end in segments:
            if end > start:
                code = _COMMENT_OR_STRING.sub(b" ", masked[start:end])
                words.update(code.translate(_ONLY_NAME_BYTES).split())
        words -= _KEYWORDS
        names = frozenset(w.decode("utf-8", "replace") for w in words if not w[:1].isdigit())
        if names:
            result[scope] = names
    return result


def _scope_segments(definitions: tuple[Definition, ...], size: int) -> dict[str, list[tuple[int, int]]]:
    """Each scope's byte spans, with the spans of the definitions nested in it cut out."""
    segments: dict[str, list[tuple[int, int]]] = {"": []}
    stack: list[list] = [[size, "", 0]]  # [end byte, qualname, where its next segment starts]
    for definition in definitions:
        if definition.kind == "constant":
            continue
        while len(stack) > 1 and stack[-1][0] <= definition.start_byte:
            _close(stack, segments)
        segments[stack[-1][1]].append((stack[-1][2], definition.start_byte))
        segments.setdefault(definition.qualname, [])
        stack.append([definition.end_byte, definition.qualname, definition.start_byte])
    while stack:
        _close(stack, segments)
    return segments


def _close(stack: list[list], segments: dict[str, list[tuple[int, int]]]) -> None:
    end, qualname, cursor = stack.pop()
    segments[qualname].append((cursor, end))
    if stack:
        stack[-1][2] = end
