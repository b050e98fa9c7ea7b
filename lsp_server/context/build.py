"""The context of a request: find the target, rank related code with the index, pack it.

``build_context`` is the single seam the actions call. It works on a partly built index: the
current file is indexed from the given text, and the files its imports name are indexed on the
spot when the background build has not reached them yet. Secret files
(privacy.secrets) are refused as the current file and read as missing everywhere else.
"""

from __future__ import annotations

from pathlib import Path

from lsp_server.config import ContextSettings
from lsp_server.context.imports import ReadText, module_candidates
from lsp_server.context.pack import CountTokens, PackedContext, Related, pack_context
from lsp_server.context.rank import Ranked, rank, rank_file
from lsp_server.context.resolve import Resolver, Symbol
from lsp_server.context.target import Target, find_target
from lsp_server.errors import NoTarget
from lsp_server.index.parsing import decode_source
from lsp_server.index.python_symbols import parse_python
from lsp_server.index.workspace import WorkspaceIndex

RANKED_LIMIT = 400
"""More candidates than any budget holds whole: the tail only feeds the repository map."""
from lsp_server.privacy.secrets import refuse_if_secret, without_secrets


def build_context(
    path: Path,
    text: str,
    start: tuple[int, int],
    end: tuple[int, int],
    index: WorkspaceIndex,
    budget: int,
    *,
    count_tokens: CountTokens | None = None,
    settings: ContextSettings | None = None,
    read_text: ReadText | None = None,
    resolver: Resolver | None = None,
    recent: frozenset[str] = frozenset(),
    named: list[Ranked] = (),
) -> PackedContext:
    """Pack the code around ``start..end`` of ``path`` (0-based line, column) into ``budget`` tokens.

    ``named``: definitions the request names (an instruction's mentions), packed before the ranked
    ones, with their own reason in the manifest."""
    settings = settings or ContextSettings()
    refuse_if_secret(path, index.roots)
    read_text = without_secrets(read_text or read_file, index.roots)
    parsed = parse_python(text)
    target = find_target(path, text, parsed, start, end)
    if target is None:
        raise NoTarget(f"No function, class or selection at line {start[0] + 1} of {path.name}: put the cursor inside a definition or select code.")
    _index_current(index, path, text, parsed.imports)
    resolver = resolver or Resolver(index)
    recent = recent | set(index.edited_recently()) - {str(path)}
    ranked = rank(index, target_symbol(target), settings, resolver, recent)
    first = {entry.symbol for entry in named}
    ranked = [*named, *(r for r in ranked if r.symbol not in first)]
    related = related_definitions(index, ranked[:RANKED_LIMIT], read_text)
    file_related = None
    if file_ranked(settings, budget):
        file_related = related_definitions(index, rank_file(index, str(path), settings, resolver, recent)[:RANKED_LIMIT], read_text)
    root = next((r for r in index.roots if _is_under(path, r)), None)
    return pack_context(target, text, related, budget, count_tokens, settings, relative_to=root, file_related=file_related)


def file_ranked(settings: ContextSettings, budget: int) -> bool:
    """Whether a context of ``budget`` tokens starts with code ranked for the whole current file: a
    long window, whose shared prefix saves a minute of prefill per question (context.file_ranked_from)."""
    return 0 < settings.file_ranked_from <= budget


def target_symbol(target: Target) -> Symbol:
    """The definition a target is, or lies in; module level ("") for a selection outside any."""
    return Symbol(str(target.path), target.definition.qualname if target.definition is not None else "")


def _index_current(index: WorkspaceIndex, path: Path, text: str, imports) -> None:
    facts = index.facts(path)
    if facts is None or facts.size != len(text.encode("utf-8", "surrogatepass")):
        index.index_text(path, text)
    wanted = [c for imp in imports for c in module_candidates(imp, path, index.roots)]
    index.ensure_indexed([c for c in wanted if any(_is_under(c, r) for r in index.roots)])


def related_definitions(index: WorkspaceIndex, ranked: list[Ranked], read_text: ReadText) -> list[Related]:
    """The ranked symbols with their current text, in rank order; vanished ones are dropped."""
    texts: dict[str, list[str] | None] = {}
    result = []
    for entry in ranked:
        facts = index.facts(entry.symbol.path)
        definition = facts.find(entry.symbol.qualname) if facts is not None else None
        if definition is None:
            continue
        if entry.symbol.path not in texts:
            source = read_text(Path(entry.symbol.path))
            texts[entry.symbol.path] = source.splitlines(keepends=True) if source is not None else None
        lines = texts[entry.symbol.path]
        if lines is None:
            continue
        body = "".join(lines[definition.start_line : definition.end_line + 1])
        result.append(
            Related(Path(entry.symbol.path), definition.qualname, definition.kind, definition.start_line, definition.end_line,
                    body, definition.signature, definition.docstring, entry.reason)
        )
    return result


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def read_file(path: Path) -> str | None:
    """Read a workspace file as UTF-8, or None when it is missing, unreadable or binary."""
    try:
        return decode_source(path.read_bytes())
    except OSError:
        return None
