"""Documents and positions from requests, checked, in the code points the pure layers use."""

from __future__ import annotations

import difflib
from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument, Workspace

from lsp_server.errors import DocumentNotFound, PositionOutOfRange
from lsp_server.privacy.secrets import root_of, without_secrets
from lsp_server.verify.shadow import FileChange

Point = tuple[int, int]


def get_document(workspace: Workspace, uri: str) -> TextDocument:
    """The editor's copy of ``uri``, or the file on disk; DocumentNotFound when neither exists."""
    document = workspace.get_text_document(uri)
    try:
        document.source
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentNotFound(f"{uri} is not open in the editor and cannot be read from disk ({exc.__class__.__name__}); open the file first.") from exc
    if document.path is None:
        raise DocumentNotFound(f"{uri} is not a file on this machine; gemma-lsp works on local files.")
    return document


def refuse_if_changed(workspace: Workspace, uri: str, version: int | None, doing: str = "the request was prepared") -> TextDocument:
    """The document, if it is still at ``version``; else ContentModified: a range the client sent
    for that version names other text now, and the user asks again."""
    document = get_document(workspace, uri)
    if document.version != version:
        raise JsonRpcContentModified(f"{Path(document.path).name} changed while {doing}; ask again.")
    return document


def open_versions(workspace: Workspace) -> dict[str, int | None]:
    """The version of every open document now: what ``refuse_if_any_changed`` compares with."""
    return {uri: document.version for uri, document in list(workspace.text_documents.items())}


def refuse_if_any_changed(workspace: Workspace, versions: dict[str, int | None], uris: list[str], doing: str) -> None:
    """ContentModified when one of ``uris`` that was open changed since ``versions`` were taken:
    an action that read or edits several files is refused as a whole."""
    for uri in uris:
        document = workspace.text_documents.get(uri)
        if document is not None and uri in versions and document.version != versions[uri]:
            raise JsonRpcContentModified(f"{Path(document_path(document)).name} changed while {doing}; ask again.")


def unsaved_changes(workspace: Workspace, root: Path) -> tuple[FileChange, ...]:
    """The editor's text of the open Python files under ``root``: tests run on what the user sees."""
    changes = []
    for uri, document in list(workspace.text_documents.items()):
        path = to_fs_path(uri)
        if path and path.endswith(".py") and Path(path).resolve().is_relative_to(root.resolve()):
            changes.append(FileChange(Path(path), document.source))
    return tuple(changes)


def document_path(document: TextDocument) -> Path:
    return Path(document.path or to_fs_path(document.uri) or document.uri)


def server_range(document: TextDocument, rng: types.Range) -> tuple[Point, Point]:
    """``rng`` in code points, or PositionOutOfRange naming the document's size."""
    lines = document.lines
    for position in (rng.start, rng.end):
        line_count = len(lines)
        beyond_end = position.line > line_count or (position.line == line_count and position.character > 0)
        if position.line < 0 or position.character < 0 or beyond_end:
            raise PositionOutOfRange(
                f"Position {position.line + 1}:{position.character + 1} is outside {Path(document.path or document.uri).name}, "
                f"which has {line_count} lines. The editor and the server disagree about the file: save it or reopen it."
            )
    converted = document.range_from_client_units(rng)
    start = (converted.start.line, converted.start.character)
    end = (converted.end.line, converted.end.character)
    return (start, end) if start <= end else (end, start)


def workspace_roots(workspace: Workspace) -> list[Path]:
    roots = [Path(p) for f in workspace.folders.values() if (p := to_fs_path(f.uri))]
    if not roots and workspace.root_path:
        roots = [Path(workspace.root_path)]
    return roots


def workspace_root(workspace: Workspace, path: Path) -> Path:
    """The workspace folder ``path`` lies in (its own folder outside every one)."""
    return root_of(path, workspace_roots(workspace))


def read_from_workspace(workspace: Workspace):
    """A ReadText that prefers the editor's unsaved text to the file on disk; secret files read
    as missing (every feature reads workspace text for a prompt through this)."""
    return without_secrets(read_for_editing(workspace), workspace_roots(workspace))


def read_for_editing(workspace: Workspace):
    """The same reader, secret files included: only for text that never enters a prompt (the
    test file that on-save stubs are appended to: read as missing, it would be written over)."""
    from pygls.uris import from_fs_path

    from lsp_server.context.build import read_file

    def read(path: Path) -> str | None:
        uri = from_fs_path(str(path))
        open_doc = workspace.text_documents.get(uri) if uri else None
        return open_doc.source if open_doc is not None else read_file(path)

    return read


def versioned_edit(caps: types.ClientCapabilities, document: TextDocument, edits: list[types.TextEdit], annotations: dict | None = None) -> types.WorkspaceEdit:
    """Edits to one open document, naming its version where the client supports it, so a client
    refuses them once the file has changed."""
    from lsp_server.features.capabilities import document_changes_supported

    if document_changes_supported(caps):
        identifier = types.OptionalVersionedTextDocumentIdentifier(uri=document.uri, version=document.version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(identifier, edits)], change_annotations=annotations)
    return types.WorkspaceEdit(changes={document.uri: edits})


def create_file_edit(uri: str, edits: list[types.TextEdit], annotations: dict | None = None) -> types.WorkspaceEdit:
    """Create the file ``uri`` and apply ``edits`` to it; a file that exists by then is never
    overwritten (the edits then land in it as they are)."""
    create = types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=True))
    unversioned = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None)
    return types.WorkspaceEdit(document_changes=[create, types.TextDocumentEdit(unversioned, edits)], change_annotations=annotations)


def line_range(lines: list[str], start_line: int, end_line: int) -> types.Range:
    """Lines [start_line, end_line) of a document's ``lines``; a line past a last line without a
    newline is its end."""
    return types.Range(_position(lines, start_line), _position(lines, end_line))


def _position(lines: list[str], line: int) -> types.Position:
    if line < len(lines) or (lines and lines[-1].endswith("\n")) or not lines:
        return types.Position(line, 0)
    last = len(lines) - 1
    return types.Position(last, len(lines[last].encode("utf-16-le")) // 2)


def text_edits(document: TextDocument, new_text: str) -> list[types.TextEdit]:
    """The blocks of lines that differ between the document and ``new_text``, as edits: not one
    edit of the whole text, so the user's marks and folds elsewhere survive."""
    old, new = document.lines, new_text.splitlines(keepends=True)
    blocks = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    return [types.TextEdit(line_range(old, i1, i2), "".join(new[j1:j2])) for tag, i1, i2, j1, j2 in blocks if tag != "equal"]


def files_edit(caps: types.ClientCapabilities, files: list[tuple[str, TextDocument | None, str]], annotations: dict | None = None) -> types.WorkspaceEdit:
    """One WorkspaceEdit (one undo) for several files: (uri, the document now or None for a new
    file, its new text). Versioned where the client supports it; new files are created, never
    written over."""
    from lsp_server.features.capabilities import document_changes_supported, resource_create_supported

    start = types.Range(types.Position(0, 0), types.Position(0, 0))
    creates = resource_create_supported(caps)  # Neovim applies documentChanges but lists only these
    if not (document_changes_supported(caps) or creates) or (any(d is None for _, d, _ in files) and not creates):
        return types.WorkspaceEdit(changes={uri: text_edits(d, new) if d else [types.TextEdit(start, new)] for uri, d, new in files})
    changes: list = []
    for uri, document, new_text in files:
        if document is None:
            changes += create_file_edit(uri, [types.TextEdit(start, new_text)]).document_changes
        else:
            identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=document.version)
            changes.append(types.TextDocumentEdit(identifier, text_edits(document, new_text)))
    return types.WorkspaceEdit(document_changes=changes, change_annotations=annotations)
