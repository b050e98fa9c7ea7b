"""Secret files never enter a prompt.

A file is secret when, relative to its workspace root,

1. it matches a default pattern (``DEFAULT_PATTERNS``: ``.env*``, ``*.pem``, ``*.key``,
   ``id_rsa*``, ``*secret*``, ``*.p12``), or a pattern of the project file ``.gemma-lsp-secrets``
   in the workspace root (gitignore syntax; ``!pattern`` lines make a default match not secret,
   e.g. ``!.env.example``); patterns also match directories, so ``secrets/`` covers its files; or
2. it is *gitignored as a secret*: a ``.gitignore`` in the root or in a folder between the root and
   the file ignores it, **and** its file name looks like a secret (``GITIGNORED_SECRET_NAMES``:
   credentials, passwords, tokens, API keys, private keys, keystores...). A tracked ``token.py``
   (say, a lexer) stays usable; an ignored ``prod_token.json`` does not. Each ``.gitignore`` is
   read on its own (a negation in a deeper one does not undo a shallower one's match) and
   ``.git/info/exclude`` is not read: both err on the side of secret.

A symbolic link is secret when either its own path or the file it points to is. Matching is
done on the path and on its lower-case form. Pure: plain paths in, booleans out; no pygls.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

import pathspec

from lsp_server.errors import GemmaLspError

log = logging.getLogger(__name__)

DEFAULT_PATTERNS = (".env*", "*.pem", "*.key", "id_rsa*", "*secret*", "*.p12")
PROJECT_FILE = ".gemma-lsp-secrets"
GITIGNORED_SECRET_NAMES = (
    "*credential*", "*password*", "*passwd*", "*token*", "*apikey*", "*api_key*", "*api-key*",
    "*private*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.pfx", "*.jks", "*.keystore", "*.kdbx",
    ".netrc", ".pgpass", "*.tfvars", "*.tfstate*", "*.crt", "*.der",
)


class SecretFileRefused(GemmaLspError):
    """The user asked to act on a file that looks like a secret."""


class SecretFilter:
    """Decides, for one workspace root, which files are secret. Cheap to call repeatedly."""

    def __init__(self, root: Path, extra_patterns: Iterable[str] = ()) -> None:
        self.root = Path(root)
        self._spec = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_PATTERNS, *extra_patterns])

    @classmethod
    def for_root(cls, root: Path) -> SecretFilter:
        """The filter of ``root`` with its project file, re-read when that file changes."""
        project = Path(root) / PROJECT_FILE
        return _cached_filter(str(root), _mtime(project))

    def is_secret(self, path: Path) -> bool:
        return self.why(path) is not None

    def why(self, path: Path) -> str | None:
        """Why ``path`` is secret (for messages), or None when it is not."""
        path = Path(path)
        reason = self._why_one(path)
        if reason is None and path.is_symlink():
            reason = self._why_one(Path(os.path.realpath(path)))
        return reason

    def _why_one(self, path: Path) -> str | None:
        rel = _relative(path, self.root)
        shown = rel if rel is not None else path.name
        if self._spec.match_file(shown) or self._spec.match_file(shown.lower()):
            return f"it matches a secret pattern (defaults or {PROJECT_FILE})"
        if rel is not None and _named_like_secret(path.name) and _gitignored(path, self.root):
            return "it is gitignored and named like a secret"
        return None


def is_secret(path: Path, root: Path) -> bool:
    """True when ``path`` must never enter a prompt (see the module docstring for the rules)."""
    return SecretFilter.for_root(root).is_secret(path)


def root_of(path: Path, roots: Iterable[Path]) -> Path:
    """The workspace root ``path`` lies in, as written or once symbolic links are resolved; a file
    outside every root is judged in its own folder."""
    path = Path(path)
    for root in map(Path, roots):
        if _relative(path, root) is not None or path.resolve().is_relative_to(root.resolve()):
            return root
    return path.parent


def refuse_if_secret(path: Path, roots: Iterable[Path]) -> None:
    """Raise SecretFileRefused, saying how to allow the file, when ``path`` is secret."""
    root = root_of(path, roots)
    reason = SecretFilter.for_root(root).why(path)
    if reason is not None:
        raise SecretFileRefused(
            f"gemma-lsp does not send {Path(path).name} to the model: {reason}. If it holds no secret, "
            f"add the line '!{Path(path).name}' to {PROJECT_FILE} in {root}."
        )


def without_secrets(read_text: Callable[[Path], str | None], roots: list[Path]) -> Callable[[Path], str | None]:
    """Wrap a file reader so that secret files read as missing."""

    def read(path: Path) -> str | None:
        if SecretFilter.for_root(root_of(path, roots)).is_secret(path):
            log.debug("Left a secret file out of the context: %s", path)
            return None
        return read_text(path)

    return read


def _relative(path: Path, root: Path) -> str | None:
    try:
        return Path(os.path.normpath(path)).relative_to(os.path.normpath(root)).as_posix()
    except ValueError:
        return None


def _named_like_secret(name: str) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in GITIGNORED_SECRET_NAMES)


def _gitignored(path: Path, root: Path) -> bool:
    folder = Path(os.path.normpath(root))
    parts = Path(_relative(path, root) or path.name).parts
    for depth in range(len(parts)):
        spec = _gitignore_spec(str(folder / ".gitignore"), _mtime(folder / ".gitignore"))
        if spec is not None and spec.match_file("/".join(parts[depth:])):
            return True
        folder = folder / parts[depth]
    return False


@lru_cache(maxsize=256)
def _gitignore_spec(path: str, mtime: int) -> pathspec.GitIgnoreSpec | None:
    if mtime < 0:
        return None
    try:
        return pathspec.GitIgnoreSpec.from_lines(Path(path).read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return None


@lru_cache(maxsize=64)
def _cached_filter(root: str, project_mtime: int) -> SecretFilter:
    extra: list[str] = []
    if project_mtime >= 0:
        try:
            extra = (Path(root) / PROJECT_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            log.warning("Cannot read %s in %s (%s); only the default secret patterns apply.", PROJECT_FILE, root, exc)
    return SecretFilter(Path(root), extra)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1
