"""Trees of documents open in the editor, re-parsed incrementally as they change.

Tree-sitter reuses the unchanged parts of the old tree when told where the text changed; the
changed span is found by comparing the old and new bytes from both ends (C-speed slice compares
in a binary search), so one keystroke costs a small re-parse, not a full one.
"""

from __future__ import annotations

import threading

import tree_sitter

from lsp_server.index.facts import FileFacts, extract_facts, parse_tree


class EditedTrees:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trees: dict[str, tuple[bytes, tree_sitter.Tree]] = {}

    def is_open(self, path: str) -> bool:
        with self._lock:
            return path in self._trees

    def forget(self, path: str) -> None:
        with self._lock:
            self._trees.pop(path, None)

    def update(self, path: str, text: str) -> FileFacts:
        data = text.encode("utf-8", "surrogatepass")
        with self._lock:
            previous = self._trees.get(path)
        tree = _reparse(previous, data) if previous is not None else parse_tree(data)
        with self._lock:
            self._trees[path] = (data, tree)
        return extract_facts(path, data, len(data), 0, tree)


def _reparse(previous: tuple[bytes, tree_sitter.Tree], new: bytes) -> tree_sitter.Tree:
    old, tree = previous
    if old == new:
        return tree
    start = _common_prefix(old, new)
    suffix = _common_suffix(old[start:], new[start:])
    old_end, new_end = len(old) - suffix, len(new) - suffix
    tree.edit(
        start_byte=start,
        old_end_byte=old_end,
        new_end_byte=new_end,
        start_point=_point(old, start),
        old_end_point=_point(old, old_end),
        new_end_point=_point(new, new_end),
    )
    return parse_tree(new, tree)


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


def _point(data: bytes, offset: int) -> tuple[int, int]:
    row = data.count(b"\n", 0, offset)
    return (row, offset - (data.rfind(b"\n", 0, offset) + 1))
