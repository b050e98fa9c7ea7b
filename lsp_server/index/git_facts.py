"""Facts from git (through gitpython): what changed lately, and who shaped a range of lines.

A workspace that is not a git repository (or a machine without git) gets ``None`` from
``GitFacts.open`` and every caller goes on without history.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    date: str
    summary: str

    def describe(self) -> str:
        """One line for people and prompts: date, author, message, short sha."""
        return f"{self.date} {self.author}: {self.summary} ({self.sha[:8]})"


class GitFacts:
    def __init__(self, repo) -> None:
        self._repo = repo
        self.root = Path(repo.working_tree_dir)

    @classmethod
    def open(cls, folder: Path) -> "GitFacts | None":
        try:
            import git

            return cls(git.Repo(folder, search_parent_directories=True))
        except Exception as exc:  # no git binary, not a repository, a bare or broken one
            log.info("no git facts for %s: %s", folder, exc.__class__.__name__)
            return None

    def uncommitted(self) -> set[Path]:
        """Files modified, added or untracked in the working tree."""
        out = self._git("status", "--porcelain", "-z", "--untracked-files=all")
        paths: set[Path] = set()
        entries = iter(out.split("\0"))
        for entry in entries:
            if len(entry) < 4:
                continue
            if entry[0] in "RC":  # a rename is followed by its old path
                next(entries, None)
            paths.add(self.root / entry[3:])
        return paths

    def recently_changed(self, commits: int = 20) -> dict[Path, int]:
        """Files touched by the last ``commits`` commits -> how many commits ago (0 = the last)."""
        out = self._git("log", f"-n{commits}", "--name-only", "--format=%x00")
        result: dict[Path, int] = {}
        for age, block in enumerate(out.split("\0")[1:]):
            for name in block.split("\n"):
                if name.strip():
                    result.setdefault(self.root / name.strip(), age)
        return result

    def history(self, path: Path, start_line: int, end_line: int, limit: int = 5) -> list[Commit]:
        """Commits that touched lines ``start_line..end_line`` (1-based, inclusive), newest first."""
        relative = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        out = self._git("log", f"-n{limit}", "--no-patch", f"-L{start_line},{end_line}:{relative}", "--format=%H%x1f%an%x1f%as%x1f%s")
        commits = []
        for line in out.splitlines():
            parts = line.split("\x1f")
            if len(parts) == 4:
                commits.append(Commit(*parts))
        return commits

    def _git(self, *args: str) -> str:
        try:
            return self._repo.git.execute(["git", *args], strip_newline_in_stdout=False)
        except Exception as exc:  # an empty repo has no HEAD; history is then simply empty
            log.info("git %s failed: %s", args[0], exc.__class__.__name__)
            return ""


def range_history(git: GitFacts | None, path: Path, start_line: int, end_line: int, limit: int) -> list[str]:
    """The last ``limit`` commits that touched lines ``start_line..end_line`` (0-based, inclusive),
    described one a line; none without git or for a file outside the repository."""
    if git is None:
        return []
    try:
        commits = git.history(path, start_line + 1, end_line + 1, limit=limit)
    except ValueError:  # the file is outside the repository
        return []
    return [commit.describe() for commit in commits]


class RecentFiles:
    """Uncommitted files, asked of git at most every ``ttl`` seconds (it is on the request path)."""

    def __init__(self, ttl: float = 10.0) -> None:
        self._ttl, self._at, self._paths = ttl, 0.0, frozenset()

    def get(self, git: GitFacts | None) -> frozenset[str]:
        if git is None:
            return frozenset()
        if time.monotonic() - self._at > self._ttl:
            self._paths = frozenset(str(p) for p in git.uncommitted())
            self._at = time.monotonic()
        return self._paths
