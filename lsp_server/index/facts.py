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

from lsp_server.index.python_symbols import PYTHON, outer_node, scan_tree
from lsp_server.index.symbols import Definition, Import

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
    import_starts: tuple[int, ...] = ()
    """Where the statement of each import starts."""
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

    def __reduce__(self):
        # Definitions and imports go as plain tuples, which pickle writes without a Python-level
        # call for each (every worker pickles every file it parses); the source never goes.
        return (_unpickle_facts, (self.path, self.size, self.mtime_ns, tuple(map(tuple, self.definitions)), tuple(map(tuple, self.imports)),
                                  self.bases, self.decorators, self.has_errors, self.name_spans, self.import_starts))

    @property
    def is_test_file(self) -> bool:
        name = self.path.rsplit("/", 1)[-1]
        return name.startswith("test_") or name.endswith("_test.py") or "/tests/" in self.path

    def find(self, qualname: str) -> Definition | None:
        return next((d for d in self.definitions if d.qualname == qualname), None)

    def innermost_at(self, line: int) -> Definition | None:
        enclosing = [d for d in self.definitions if d.kind != "constant" and d.contains_line(line)]
        return max(enclosing, key=lambda d: d.start_line, default=None)


def _unpickle_facts(path, size, mtime_ns, definitions, imports, *rest) -> FileFacts:
    new = tuple.__new__
    return FileFacts(path, size, mtime_ns, tuple([new(Definition, row) for row in definitions]), tuple([new(Import, row) for row in imports]), *rest)


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
        import_starts=scan.import_starts,
        source=data if (keep_source if keep_source is not None else not mtime_ns) else None,
    )


def reextract_facts(previous: FileFacts, data: bytes, tree: tree_sitter.Tree, edit: tuple[int, int, int], lines: int, changed: list[tuple[int, int]]) -> FileFacts:
    """The facts of an edited text (an open document) from the facts before the edit.

    Only the innermost definition around the change is read again (or the top-level statements
    it touched, outside any definition); facts before it stay, those after it move by the edit's
    size, and the definitions around it grow by it. ``edit``: start, old end, new end in bytes;
    ``lines``: lines added; ``changed``: tree-sitter's changed ranges after the re-parse.
    """
    start, old_end, new_end = edit
    delta = new_end - old_end
    low, high = min([start, *(a for a, _ in changed)]), max([new_end, *(b for _, b in changed)])
    window, enclosing = _region(previous, tree.root_node, low, high, delta)
    low, high = window
    old_high = high - delta
    scan = scan_tree(data, tree, low, high, enclosing)

    def place(d: Definition) -> Definition | None:
        if d.end_byte <= low:
            return d
        if d.start_byte >= old_high:
            return _moved(d, delta, lines, lines)
        if d.start_byte < low and d.end_byte >= old_high:  # around the region: it grows
            return _moved(d, 0, 0, lines, delta)
        return None

    placed = [(d, place(d)) for d in previous.definitions]
    dropped = {d.qualname for d, moved in placed if moved is None}
    kept = {d.qualname for d, moved in placed if moved is not None}
    if dropped & kept or {d.qualname for d in scan.definitions} & kept:
        # The same name defined twice (overloads, redefinitions): bases and decorators are kept
        # per name, so which one wins is decided by a full read.
        return extract_facts(previous.path, data, len(data), 0, tree)
    definitions = sorted([*(moved for _, moved in placed if moved is not None), *scan.definitions], key=lambda d: (d.start_line, d.start_byte))
    spans = [s for s in previous.name_spans if s[1] <= low] + list(scan.name_spans)
    spans += [(a + delta, b + delta) for a, b in previous.name_spans if a >= old_high]
    imports = [(i, at) for i, at in zip(previous.imports, previous.import_starts) if at < low] + list(zip(scan.imports, scan.import_starts))
    imports += [(i, at + delta) for i, at in zip(previous.imports, previous.import_starts) if at >= old_high]
    return FileFacts(
        path=previous.path,
        size=len(data),
        mtime_ns=0,
        definitions=tuple(definitions),
        imports=tuple(i for i, _ in imports),
        bases={**{q: v for q, v in previous.bases.items() if q in kept and q not in dropped}, **scan.bases},
        decorators={**{q: v for q, v in previous.decorators.items() if q in kept and q not in dropped}, **scan.decorators},
        has_errors=tree.root_node.has_error,
        name_spans=tuple(sorted(spans)),
        import_starts=tuple(at for _, at in imports),
        source=data,
    )


def _region(previous: FileFacts, root: tree_sitter.Node, low: int, high: int, delta: int) -> tuple[tuple[int, int], list]:
    """The span to read again, and the definitions around it as (end byte, qualname, kind).

    The innermost function or class that holds the whole change after its name (so its name and
    the names inside it keep their meaning); else the top-level statements touched."""
    node = root.descendant_for_byte_range(low, high)
    while node is not None and node.parent is not None:
        if node.type in ("function_definition", "class_definition"):
            name = node.child_by_field_name("name")
            if name is not None and name.end_byte <= low and high <= node.end_byte:
                outer = outer_node(node)
                known = next((d for d in previous.definitions if d.start_byte == outer.start_byte and d.kind != "constant"), None)
                if known is not None:
                    return (outer.start_byte, outer.end_byte), _enclosing(previous, known)
        node = node.parent
    return _top_level_region(previous, root, low, high, delta), []


def _top_level_region(previous: FileFacts, root: tree_sitter.Node, low: int, high: int, delta: int) -> tuple[int, int]:
    """Whole top-level statements of the new tree, widened until no old definition straddles an
    edge (an edit that dedents part of a class ends the class early: the whole class is re-read)."""
    while True:
        low, high = _statement_bounds(root, low, high)
        straddling = [d for d in previous.definitions if not (d.end_byte <= low or d.start_byte >= high - delta)]
        wider = (min([low, *(d.start_byte for d in straddling)]), max([high, *(d.end_byte + delta for d in straddling)]))
        if wider == (low, high):
            return low, high
        low, high = wider


def _enclosing(previous: FileFacts, definition: Definition) -> list[tuple[int, str, str]]:
    if "." not in definition.qualname:
        return []
    owner = definition.qualname.rsplit(".", 1)[0]
    found = next((d for d in previous.definitions if d.qualname == owner and d.start_byte < definition.start_byte and d.kind != "constant"), None)
    return [(1 << 62, owner, found.kind)] if found is not None else []


def _statement_bounds(root: tree_sitter.Node, low: int, high: int) -> tuple[int, int]:
    """``low..high`` widened to whole top-level statements."""
    first, last = _top_level_at(root, low), _top_level_at(root, max(high - 1, low))
    if first is not None:
        low = min(low, first.start_byte)
    if last is not None:
        high = max(high, last.end_byte)
    return low, high


def _top_level_at(root: tree_sitter.Node, byte: int) -> tree_sitter.Node | None:
    node = root.descendant_for_byte_range(byte, byte)
    while node is not None and node.parent is not None and node.parent.parent is not None:
        node = node.parent
    return node if node is not None and node.parent is not None else None


def _moved(definition: Definition, delta: int, lines: int, end_lines: int, end_delta: int | None = None) -> Definition:
    return definition._replace(
        start_line=definition.start_line + lines, end_line=definition.end_line + end_lines,
        start_byte=definition.start_byte + delta, end_byte=definition.end_byte + (delta if end_delta is None else end_delta),
    )


# Names used in code, read from the bytes at C speed rather than as tree nodes (a file has
# thousands of identifiers; a Python object for each was most of the indexing cost). Comments and
# strings (with their prefixes) are blanked first so that their words are skipped; an f-string keeps
# the code of its {...} fields (``f"Total: {cart.total()}"`` uses ``total``). Keywords and numbers
# are dropped.
# Assignment targets count as uses (the tree-based reading left them out): a local name that
# shadows a workspace name links the two either way.
_STRING = rb'''"""(?:[^\\]|\\.)*?"""|\'\'\'(?:[^\\]|\\.)*?\'\'\'|"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|\\.)*\''''
_COMMENT_OR_STRING = re.compile(rb"#[^\r\n]*|[rRbBuUfF]{0,2}(?:" + _STRING + rb")", re.S)
_ONLY_NAME_BYTES = bytes(c if chr(c).isalnum() or c == ord("_") or c >= 128 else ord(" ") for c in range(256))
_KEYWORDS = frozenset(k.encode() for k in keyword.kwlist)
_CONVERSION_AND_SPEC = re.compile(rb"(?:![rsa])?(?::[^\[\]()]*)?$")


def _blank(match: re.Match) -> bytes:
    """A comment or string as blanks, but an f-string's replacement fields as code."""
    text = match.group(0)
    quote = min(i for i in (text.find(b'"'), text.find(b"'")) if i >= 0) if not text.startswith(b"#") else 0
    if b"f" not in text[:quote].lower():
        return b" "
    return b" " + b" ".join(_field_code(field) for field in _fields(text)) + b" "


def _field_code(field: bytes) -> bytes:
    """A replacement field's code: strings in it first (their text may hold a ':'; a nested
    f-string keeps its own fields), then its !conversion and :spec, whose own {fields} are code."""
    code = _COMMENT_OR_STRING.sub(_blank, field)
    spec = _CONVERSION_AND_SPEC.search(code)
    return code[: spec.start()] + b" " + b" ".join(_fields(spec.group(0)))


def _fields(text: bytes) -> list[bytes]:
    """An f-string's replacement fields, each whole: braces nested in a field (a dict, a nested
    f-string's own fields, a spec's {width}) stay inside it; {{ and }} outside fields are text."""
    fields, depth, start = [], 0, 0
    index = text.find(b"{")
    while 0 <= index < len(text):
        byte = text[index]
        if depth == 0 and text[index : index + 2] in (b"{{", b"}}"):
            index += 2
            continue
        if byte == 0x7B:  # {
            depth += 1
            start = index + 1 if depth == 1 else start
        elif byte == 0x7D and depth:  # }
            depth -= 1
            if depth == 0:
                fields.append(text[start:index])
        index += 1
    return fields


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
                code = _COMMENT_OR_STRING.sub(_blank, masked[start:end])
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
