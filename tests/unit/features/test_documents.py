"""Edits and roots made from the editor's documents, without a client."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.workspace import Workspace

from lsp_server.features import documents


def test_a_new_file_is_created_without_overwriting_then_edited():
    insert = types.TextEdit(types.Range(types.Position(0, 0), types.Position(0, 0)), "def test_f():\n    pass\n")
    edit = documents.create_file_edit("file:///w/tests/test_m.py", [insert], {"gemma-lsp": types.ChangeAnnotation(label="verified")})
    create, text = edit.document_changes
    assert isinstance(create, types.CreateFile) and create.uri == "file:///w/tests/test_m.py"
    assert create.options.overwrite is False and create.options.ignore_if_exists is True
    assert text.text_document.uri == create.uri and text.text_document.version is None and text.edits == [insert]
    assert set(edit.change_annotations) == {"gemma-lsp"} and edit.changes is None


def test_the_workspace_root_of_a_path(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    workspace = Workspace(None, workspace_folders=[types.WorkspaceFolder((tmp_path / n).as_uri(), n) for n in "ab"])
    assert documents.workspace_root(workspace, tmp_path / "b" / "pkg" / "m.py") == tmp_path / "b"
    assert documents.workspace_root(workspace, tmp_path / "c" / "m.py") == tmp_path / "c"
