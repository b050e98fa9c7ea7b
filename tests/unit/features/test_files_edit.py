"""One WorkspaceEdit over several files: line-block edits that rebuild each file's new text,
versioned for open documents, new files created (never overwritten), a fallback for clients that
know only ``changes``."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.workspace import TextDocument

from lsp_server.features.documents import files_edit, text_edits
from tests.e2e.test_edit_actions import apply_text_edits

FULL = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(workspace_edit=types.WorkspaceEditClientCapabilities(
    document_changes=True, resource_operations=[types.ResourceOperationKind.Create])))
NEOVIM = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(workspace_edit=types.WorkspaceEditClientCapabilities(
    resource_operations=[types.ResourceOperationKind.Create])))
PLAIN = types.ClientCapabilities()


@pytest.mark.parametrize(("old", "new"), [
    ("a\nb\nc\n", "a\nB\nc\nd\n"),
    ("a\nb", "a\nb\nc\n"),  # the last line had no newline
    ("x = 1\n", ""),
    ("", "def f():\n    return 1\n"),
    ("é = 1\nf = 2\n", "é = 1\n# 𝔘\nf = 2\n"),  # positions in UTF-16 units
])
def test_the_edits_rebuild_the_new_text(old: str, new: str):
    document = TextDocument("file:///w/m.py", old, version=3)
    assert apply_text_edits(old, text_edits(document, new)) == new


def test_unchanged_lines_are_left_alone():
    document = TextDocument("file:///w/m.py", "a\nb\nc\nd\n", version=1)
    (edit,) = text_edits(document, "a\nb\nC\nd\n")
    assert (edit.range.start.line, edit.range.end.line, edit.new_text) == (2, 3, "C\n")


def test_open_files_are_versioned_and_new_files_created_without_overwriting():
    document = TextDocument("file:///w/m.py", "a\n", version=7)
    edit = files_edit(FULL, [("file:///w/m.py", document, "a\nb\n"), ("file:///w/new.py", None, "x = 1\n")])
    edited, create, created = edit.document_changes
    assert edited.text_document.version == 7 and create.uri == "file:///w/new.py" and create.options.overwrite is False
    assert created.text_document.uri == "file:///w/new.py" and created.edits[0].new_text == "x = 1\n"
    assert files_edit(NEOVIM, [("file:///w/new.py", None, "x\n")]).document_changes, "Neovim applies documentChanges it does not list"


def test_a_client_without_document_changes_gets_plain_changes():
    document = TextDocument("file:///w/m.py", "a\n", version=7)
    edit = files_edit(PLAIN, [("file:///w/m.py", document, "b\n"), ("file:///w/new.py", None, "x\n")])
    assert edit.document_changes is None and set(edit.changes) == {"file:///w/m.py", "file:///w/new.py"}
