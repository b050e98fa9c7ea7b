"""Trees of documents open in the editor, re-parsed incrementally as they change.

Tree-sitter reuses the unchanged parts of the old tree when told where the text changed; the
changed span is found by comparing the old and new bytes from both ends (C-speed slice compares
in a binary search), so one keystroke costs a small re-parse, not a full one. The facts are
re-read only for the top-level statements the change touched (``reextract_facts``).
"""

from __future__ import annotations

import threading

import tree_sitter

from lsp_server.index.facts import FileFacts, extract_facts, parse_tree, reextract_facts
from lsp_server.index.symbols import ParsedFile


class EditedTrees:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trees: dict[str, tuple[bytes, tree_sitter.Tree, FileFacts]] = {}

    def is_open(self, path: str) -> bool:
        with self._lock:
            return path in self._trees

    def parsed(self, path: str, text: str) -> ParsedFile | None:
        """The definitions and imports of ``text`` if it is the open document's current text (no parse)."""
        with self._lock:
            known = self._trees.get(path)
        if known is None or known[0] != text.encode("utf-8", "surrogatepass"):
            return None
        data, tree, facts = known
        return ParsedFile(data, facts.definitions, facts.imports, facts.has_errors)

    def forget(self, path: str) -> None:
        with self._lock:
            self._trees.pop(path, None)

    def update(self, path: str, text: str) -> FileFacts:
        data = text.encode("utf-8", "surrogatepass")
        with self._lock:
            previous = self._trees.get(path)
        if previous is None:
            tree = parse_tree(data)
            facts = extract_facts(path, data, len(data), 0, tree)
        elif previous[0] == data:
            return previous[2]
        else:
            facts, tree = _reparse(path, previous, data)
        with self._lock:
            self._trees[path] = (data, tree, facts)
        return facts


def _reparse(path: str, previous: tuple[bytes, tree_sitter.Tree, FileFacts], new: bytes) -> tuple[FileFacts, tree_sitter.Tree]:
    old, tree, facts = previous
    start = _common_prefix(old, new)
    suffix = _common_suffix(old[start:], new[start:])
    old_end, new_end = len(old) - suffix, len(new) - suffix
    row = old.count(b"\n", 0, start)  # the one count over the file; the rest count the change only
    old_rows, new_rows = old.count(b"\n", start, old_end), new.count(b"\n", start, new_end)
    tree.edit(
        start_byte=start,
        old_end_byte=old_end,
        new_end_byte=new_end,
        start_point=(row, start - (old.rfind(b"\n", 0, start) + 1)),
        old_end_point=(row + old_rows, old_end - (old.rfind(b"\n", 0, old_end) + 1)),
        new_end_point=(row + new_rows, new_end - (new.rfind(b"\n", 0, new_end) + 1)),
    )
    new_tree = parse_tree(new, tree)
    changed = [(r.start_byte, r.end_byte) for r in tree.changed_ranges(new_tree)]
    lines = new_rows - old_rows
    if new_tree.root_node.has_error or facts.has_errors:
        # Error recovery can reshape the tree beyond the changed ranges: read it all.
        return extract_facts(path, new, len(new), 0, new_tree), new_tree
    return reextract_facts(facts, new, new_tree, (start, old_end, new_end), lines, changed), new_tree


def _common_prefix(a: bytes, b: bytes) -> int:
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: bytes, b: bytes) -> int:
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low
