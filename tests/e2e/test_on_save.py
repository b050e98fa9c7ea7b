"""On-save stub tests through the real server: didSave -> workspace/applyEdit with the stubs.

No model is involved (stubs are deterministic), so these run on the local backend only.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import MODEL_OPTIONS, open_file, start
from tests.e2e.test_edit_actions import apply_workspace_edit

pytestmark = pytest.mark.e2e
TAXES = '"""Taxes."""\n'
ADD_TAX = TAXES + "\n\ndef add_tax(price, rate=0.2):\n    return price * (1 + rate)\n"
WAIT_SECONDS = 30
QUIET_SECONDS = 2.0  # the debounce is 0.5 s: a save handled at all is handled well within this


def record_and_apply(client: LanguageClient) -> list[types.ApplyWorkspaceEditParams]:
    """Apply each edit to the files, as the editor (then saving) would."""
    applied: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        for change in params.edit.document_changes or []:
            if isinstance(change, types.CreateFile):
                path = Path(change.uri.removeprefix("file://"))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
        apply_workspace_edit(params.edit)
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    return applied


def save(client: LanguageClient, uri: str, path: Path, text: str, version: int) -> None:
    """Edit the buffer to ``text``, write it and send didSave (what :w / Ctrl+S do)."""
    change = types.TextDocumentContentChangeWholeDocument(text=text)
    client.text_document_did_change(types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(uri=uri, version=version), [change]))
    path.write_text(text)
    client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri=uri)))


async def wait_for(applied: list, count: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while len(applied) < count and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert len(applied) >= count, f"expected {count} edit(s), got {len(applied)}"


async def stays_quiet(applied: list, count: int) -> None:
    await asyncio.sleep(QUIET_SECONDS)
    assert len(applied) == count, [a.label for a in applied]


@pytest.mark.parametrize("client_name", ["visual-studio-code", "neovim"])
async def test_a_new_public_function_gets_a_new_test_file_once(bare_client: LanguageClient, workspace: Path, client_name: str):
    applied = record_and_apply(bare_client)
    await start(bare_client, workspace, MODEL_OPTIONS, client_name)
    path = workspace / "shop" / "taxes.py"
    path.write_text(TAXES)
    uri = open_file(bare_client, path)
    save(bare_client, uri, path, ADD_TAX, 2)
    await wait_for(applied, 1)
    create, insert = applied[0].edit.document_changes
    test_file = workspace / "tests" / "test_taxes.py"
    assert isinstance(create, types.CreateFile) and create.uri == test_file.as_uri() and create.options.overwrite is False
    assert insert.text_document.uri == test_file.as_uri() and insert.edits[0].range.start == types.Position(0, 0)
    assert "from shop.taxes import add_tax" in test_file.read_text()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", str(test_file)], cwd=workspace, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "1 skipped" in run.stdout and "stub: write this test for add_tax(price, rate=0.2)" in run.stdout, run.stdout

    save(bare_client, uri, path, ADD_TAX, 3)  # saved again, unchanged
    save(bare_client, uri, path, ADD_TAX.replace("1 + rate", "rate + 1"), 4)  # changed, but its stub exists
    await stays_quiet(applied, 1)


async def test_stubs_are_appended_to_the_existing_test_file_without_touching_it(bare_client: LanguageClient, workspace: Path):
    applied = record_and_apply(bare_client)
    await start(bare_client, workspace, MODEL_OPTIONS)
    path, test_file = workspace / "shop" / "pricing.py", workspace / "tests" / "test_pricing.py"
    original_tests = test_file.read_text()
    uri = open_file(bare_client, path)
    text = path.read_text() + "\n\ndef with_vat(price):\n    return apply_discount(price, -20)\n"
    text = text.replace("if percent < 0", "if percent < 0 or percent != percent")  # apply_discount changes, but a test uses it
    save(bare_client, uri, path, text, 2)
    await wait_for(applied, 1)
    assert applied[0].label == "Stub tests for with_vat"
    after = test_file.read_text()
    assert after.startswith(original_tests) and "def test_with_vat():" in after and "def test_apply_discount" not in after
    edit = (applied[0].edit.document_changes or [None])[0]
    position = edit.edits[0].range.start if edit is not None else next(iter(applied[0].edit.changes.values()))[0].range.start
    assert position.line == len(original_tests.split("\n")) - 1  # the end of the file: no line replaced
    await stays_quiet(applied, 1)


async def test_files_outside_packages_get_nothing_by_default(bare_client: LanguageClient, workspace: Path):
    applied = record_and_apply(bare_client)
    await start(bare_client, workspace, MODEL_OPTIONS)
    (workspace / "scripts").mkdir()
    loose = workspace / "scripts" / "tool.py"
    loose.write_text(TAXES)
    save(bare_client, open_file(bare_client, loose), loose, ADD_TAX, 2)
    path = workspace / "shop" / "taxes.py"
    path.write_text(TAXES)
    save(bare_client, open_file(bare_client, path), path, ADD_TAX, 2)
    await wait_for(applied, 1)  # the package file's stubs came; the loose file's did not
    await stays_quiet(applied, 1)
    assert "test_taxes.py" in applied[0].edit.document_changes[0].uri
    assert not (workspace / "tests" / "test_tool.py").exists()


@pytest.mark.parametrize("setting", [False, True])
async def test_the_setting_turns_it_off_or_on_everywhere(bare_client: LanguageClient, workspace: Path, setting: bool):
    applied = record_and_apply(bare_client)
    await start(bare_client, workspace, {**MODEL_OPTIONS, "onSave": {"stubTests": setting}})
    (workspace / "scripts").mkdir()
    path = workspace / "scripts" / "tool.py"
    path.write_text(TAXES)
    save(bare_client, open_file(bare_client, path), path, ADD_TAX, 2)
    if setting:
        await wait_for(applied, 1)
        assert "def test_add_tax():" in (workspace / "tests" / "test_tool.py").read_text()
    else:
        await stays_quiet(applied, 0)
        assert not bare_client.messages or all("settings" not in m.message for m in bare_client.messages)
