"""Which files the index reads: Python files under the workspace roots, minus what is ignored.

Honours every .gitignore on the way down (pathspec's git semantics), extra exclude patterns from
the settings, and an ``exclude_path`` hook where callers plug in policies of their own (the
privacy layer's secret-file filter belongs there). Directory symlinks are not followed, so a
symlink loop cannot trap the walk; a file symlink that loops, and a folder that cannot be listed,
are reported as skipped (once) and the walk goes on.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import pathspec

log = logging.getLogger(__name__)

ExcludePath = Callable[[Path], bool]
"""Returns True for a file that must never be indexed (nor enter a prompt)."""

SUFFIXES = (".py", ".pyi")


class FoundFile(NamedTuple):
    name: str
    """The path as a string (a warm start handles tens of thousands: no Path objects on the way)."""
    size: int
    mtime_ns: int

    @property
    def path(self) -> Path:
        return Path(self.name)


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


class _Ignores:
    """The .gitignore specs met so far on the walk, each matched relative to its own folder."""

    def __init__(self, root: Path, extra: Iterable[str]) -> None:
        self._specs: list[tuple[str, pathspec.PathSpec]] = []
        extra = [p for p in extra if p.strip()]
        if extra:
            self._specs.append((str(root), pathspec.GitIgnoreSpec.from_lines(extra)))

    def read_folder(self, folder: str) -> None:
        try:
            with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return
        self._specs.append((folder, pathspec.GitIgnoreSpec.from_lines(lines)))

    def ignored(self, path: str, is_dir: bool) -> bool:
        for base, spec in self._specs:
            if _is_inside(path, base):
                relative = path[len(base.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
                if spec.match_file(relative + "/" if is_dir else relative):
                    return True
        return False


def _is_inside(path: str, base: str) -> bool:
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def discover(
    roots: Iterable[Path],
    excludes: Iterable[str] = (),
    max_bytes: int = 1_000_000,
    exclude_path: ExcludePath | None = None,
) -> tuple[list[FoundFile], list[Skipped]]:
    """Python files to index under ``roots`` (sorted, deduplicated) and the ones skipped, with why."""
    found: dict[str, FoundFile] = {}
    skipped: list[Skipped] = []
    new = tuple.__new__
    patterns = list(excludes)
    for root in roots:
        for entry in _walk(Path(root), patterns, skipped):
            if exclude_path is not None and exclude_path(Path(entry.path)):
                skipped.append(Skipped(Path(entry.path), "excluded by policy"))
                continue
            try:
                stat = entry.stat()
            except OSError as exc:
                skipped.append(Skipped(Path(entry.path), f"cannot stat ({exc.__class__.__name__})"))
                continue
            if stat.st_size > max_bytes:
                skipped.append(Skipped(Path(entry.path), f"larger than {max_bytes} bytes"))
                continue
            if entry.path not in found:
                found[entry.path] = new(FoundFile, (entry.path, stat.st_size, stat.st_mtime_ns))  # no Python-level __new__
    return [found[name] for name in sorted(found)], skipped


def examine(
    path: Path,
    roots: Iterable[Path],
    excludes: Iterable[str] = (),
    max_bytes: int = 1_000_000,
    exclude_path: ExcludePath | None = None,
) -> FoundFile | Skipped | None:
    """One file by the rules of ``discover`` (for watcher events): None when it is not ours."""
    root = next((Path(r) for r in roots if Path(r) in path.parents), None)
    if root is None or not path.name.endswith(SUFFIXES) or not path.is_file():
        return None
    ignores = _Ignores(root, [".git/", *excludes])
    folder = root
    for part in path.relative_to(root).parts[:-1]:
        if part in SKIPPED_FOLDERS:
            return None
        ignores.read_folder(str(folder))
        folder = folder / part
        if ignores.ignored(str(folder), True):
            return None
    ignores.read_folder(str(folder))
    if ignores.ignored(str(path), False):
        return None
    if exclude_path is not None and exclude_path(path):
        return Skipped(path, "excluded by policy")
    stat = path.stat()
    return FoundFile(str(path), stat.st_size, stat.st_mtime_ns) if stat.st_size <= max_bytes else Skipped(path, f"larger than {max_bytes} bytes")


SKIPPED_FOLDERS = frozenset((".git", "__pycache__"))
"""Matched by name, never listed: git's store, and bytecode caches (which hold no source; a
third of the folders of an installed environment)."""


def _walk(root: Path, patterns: list[str], skipped: list[Skipped]) -> Iterator[os.DirEntry]:
    # Each folder carries the specs of its own ancestors only, and SKIPPED_FOLDERS by name: most
    # trees have few .gitignore files, and most entries then meet no pattern matching at all.
    top = [(str(root), pathspec.GitIgnoreSpec.from_lines(patterns))] if any(p.strip() for p in patterns) else []
    stack: list[tuple[str, list]] = [(str(root), top)]
    while stack:
        folder, specs = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except FileNotFoundError:  # gone (or never there): nothing to index, nothing to report
            continue
        except OSError as exc:
            skipped.append(Skipped(Path(folder), f"cannot list ({exc.__class__.__name__})"))
            continue
        own = _gitignore(folder) if any(e.name == ".gitignore" for e in entries) else None
        if own is not None:
            specs = [*specs, (folder, own)]
        for entry in entries:
            is_dir = entry.is_dir(follow_symlinks=False)
            if (is_dir and entry.name in SKIPPED_FOLDERS) or (specs and _matches(entry.path, is_dir, specs)):
                continue
            if is_dir:
                stack.append((entry.path, specs))
            elif entry.name.endswith(SUFFIXES) and _is_file(entry, skipped):
                yield entry


def _gitignore(folder: str) -> pathspec.PathSpec | None:
    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as handle:
            return pathspec.GitIgnoreSpec.from_lines(handle.read().splitlines())
    except OSError:
        return None


def _matches(path: str, is_dir: bool, specs: list[tuple[str, pathspec.PathSpec]]) -> bool:
    for base, spec in specs:
        relative = path[len(base.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
        if spec.match_file(relative + "/" if is_dir else relative):
            return True
    return False


def _is_file(entry: os.DirEntry, skipped: list[Skipped]) -> bool:
    """A regular file (through symlinks); a symlink loop is reported instead of raising ELOOP."""
    try:
        return entry.is_file()
    except OSError as exc:
        skipped.append(Skipped(Path(entry.path), f"symlink loop or unreadable link ({exc.strerror})"))
        return False
