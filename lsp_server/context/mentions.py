"""What an instruction names in the workspace: symbols, files and configuration.

"Add rate limiting to the login endpoint. Use the existing Redis configuration." names no symbol
exactly, yet the code it means is plain to a reader: ``REDIS_URL`` in ``config.py``, ``login`` in
``auth.py``. The rule, in order of weight:

- an identifier written as one (``load_settings``, ``RateLimiter``, or any word in backticks) that
  a definition is called: that definition;
- a file name or path (``config.py``, ``app/auth.py``) or a word that is a module's name
  (``store``): that module's top-level definitions;
- plain words (4+ letters, not common English) matched against the parts of definition and
  module names: ``redis`` matches ``REDIS_URL``, ``configuration`` matches ``config`` (one is a
  prefix of the other). A definition matching several words ranks above one matching a single
  word; a word matching very many definitions says nothing and is dropped.

It reads every file's facts of the index (a scan: fine for a command, not for every keystroke).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from lsp_server.context.resolve import Symbol
from lsp_server.index.workspace import WorkspaceIndex

IDENTIFIER = re.compile(r"`([^`]+)`|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
FILE = re.compile(r"[\w./-]+\.py\b")
CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\b|\d)|[A-Z]?[a-z]+|\d+")
STOPWORDS = frozenset("""
about above after again also apply before being below between both cannot code could does doing down during each every
existing file from have having here into just keep less like make more most much must need only other over same should
some such than that their them then there these they this those through under until uses using very want what when where
which while will with within without would your function functions method methods class classes module value values
stricter strict instead change changes add adds added test tests new return returns call calls one two all any
""".split())
EXACT_WEIGHT, FILE_WEIGHT, WORD_WEIGHT = 3.0, 2.0, 1.0
MAX_WORD_HITS = 25
"""A word matching more definitions than this (``data``, ``name``) names nothing in particular."""
MIN_WORD = 4


@dataclass
class Mention:
    symbol: Symbol
    score: float = 0.0
    because: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "named in the instruction: " + ", ".join(self.because)


def named_in(instruction: str, index: WorkspaceIndex, limit: int = 12) -> list[Mention]:
    """Workspace definitions ``instruction`` names, most clearly named first."""
    snapshot = index.snapshot()
    found: dict[Symbol, Mention] = {}

    def note(symbol: Symbol, weight: float, why: str) -> None:
        entry = found.setdefault(symbol, Mention(symbol))
        if why not in entry.because:
            entry.score += weight
            entry.because.append(why)

    identifiers, words = _identifiers(instruction), _words(instruction)
    for path, facts in snapshot.items():
        if facts is None:
            continue
        named_file = _names_file(instruction, path, words)
        for definition in facts.definitions:
            symbol = Symbol(path, definition.qualname)
            if definition.name in identifiers or definition.qualname in identifiers:
                note(symbol, EXACT_WEIGHT, f"`{definition.name}`")
            if named_file and "." not in definition.qualname:
                note(symbol, FILE_WEIGHT, f"the file {named_file}")
    for word, symbols in _word_hits(snapshot, words).items():
        for symbol in symbols:
            note(symbol, WORD_WEIGHT, f"'{word}'")
    ranked = sorted(found.values(), key=lambda m: (-m.score, _is_test(m.symbol.path), m.symbol))
    return ranked[:limit]


def _identifiers(text: str) -> set[str]:
    """Words written as code: in backticks, or with an underscore, a dot or an inner capital."""
    found = set()
    for match in IDENTIFIER.finditer(text):
        quoted, bare = match.group(1), match.group(2)
        if quoted:
            found |= {w for w in re.findall(r"[A-Za-z_][\w.]*", quoted)}
        elif "_" in bare or "." in bare or re.search(r"[a-z][A-Z]", bare) or bare.isupper() and len(bare) > 1:
            found.add(bare)
    return found | {part for name in found for part in name.split(".")}


def _words(text: str) -> set[str]:
    """Plain words worth matching: lower case, 4+ letters, not common English."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", text)}
    return {w for w in words if len(w) >= MIN_WORD and w not in STOPWORDS}


def _names_file(instruction: str, path: str, words: set[str]) -> str:
    """How the instruction names ``path`` ("config.py", or "config" as a word), else ""."""
    posix = PurePosixPath(path)
    for written in FILE.findall(instruction):
        if path.endswith("/" + written.lstrip("./")) or posix.name == written:
            return written
    stem = posix.stem if posix.stem != "__init__" else posix.parent.name
    return stem if stem.lower() in words else ""


def name_parts(name: str) -> list[str]:
    """``REDIS_URL`` -> ["redis", "url"]; ``RateLimiter`` -> ["rate", "limiter"]."""
    return [p.lower() for chunk in name.split("_") for p in CAMEL.findall(chunk)]


def _matches(word: str, part: str) -> bool:
    if word == part:
        return True
    short, long = sorted((word, part), key=len)
    return len(short) >= MIN_WORD and long.startswith(short)


def _word_hits(snapshot: dict, words: set[str]) -> dict[str, list[Symbol]]:
    """Word -> the definitions whose name (or module's name) has a part matching it. A module
    counts once toward a word's hits (all of ``config.py`` is one thing named); words with too
    many hits are left out."""
    hits: dict[str, list[Symbol]] = defaultdict(list)
    count: dict[str, int] = defaultdict(int)
    for path, facts in snapshot.items():
        if facts is None:
            continue
        module_parts = name_parts(PurePosixPath(path).stem)
        module_words = {w for w in words if any(_matches(w, p) for p in module_parts)}
        count.update({w: count[w] + 1 for w in module_words})
        for definition in facts.definitions:
            parts = name_parts(definition.name)
            for word in words:
                if any(_matches(word, p) for p in parts):
                    hits[word].append(Symbol(path, definition.qualname))
                    count[word] += 1
                elif word in module_words and "." not in definition.qualname:
                    hits[word].append(Symbol(path, definition.qualname))
    return {w: s for w, s in hits.items() if count[w] <= MAX_WORD_HITS}


def _is_test(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.startswith("test_") or "/tests/" in path
