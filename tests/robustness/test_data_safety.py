"""Data safety: simulated editing sessions against the real server and the bundled model.

Each session opens a document, edits it as a user does (typing, deleting, changing a value after
an emoji: UTF-16 positions), saves, and checks that the server sees the same text. Every
MODEL_EVERY-th session also runs Explain-as-comment through the real model, by codeAction/resolve
or by the command (the server then sends workspace/applyEdit), half the time while the user goes
on typing. Afterwards: no user line lost, duplicated or changed but by the user; every edit the
server computed for a version that is no longer current was refused with ContentModified.

GEMMA_EDIT_SESSIONS sets the number of sessions (CI: 16; long runs: tests/robustness/long_runs.sh sessions, recorded in RESULTS.md).
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

from tests.robustness.editing import (
    CAPABILITIES,
    CONTENT_MODIFIED,
    EditedDocument,
    Tally,
    TestFiles,
)
from tests.robustness.rawclient import start_server

SESSIONS = int(os.environ.get("GEMMA_EDIT_SESSIONS", "16"))
MODEL_EVERY = int(os.environ.get("GEMMA_EDIT_MODEL_EVERY", "8"))  # CI: 2 model actions in 16 sessions
OPTIONS = {"model": {"n_ctx": 1024, "max_tokens": 16, "temperature": 0.0}, "hover": {"explain": False}, "index": {"git": False, "watch": False, "cache": False}}


def run_model_action(document: EditedDocument, rng: random.Random) -> None:
    """Explain-as-comment on a function, the user typing on meanwhile half the time."""
    tally = document.tally
    tally.model_actions += 1
    line = rng.choice([i for i, text in enumerate(document.lines) if text.startswith("def ")])
    name = document.lines[line][4 : document.lines[line].index("(")]
    concurrent = rng.random() < 0.5
    by_command = rng.random() < 0.5
    started = document.version
    if by_command:
        at = {"line": line, "character": 4}
        msg_id = document.client.send_request("workspace/executeCommand", {"command": "gemma-lsp.explainAsComment", "arguments": [document.uri, {"start": at, "end": at}]})
    else:
        action = document.comment_action(line)
        assert action is not None, f"no Explain-as-comment offered for {name}"
        msg_id = document.client.send_request("codeAction/resolve", action)
    if concurrent:
        for _ in range(rng.randint(1, 3)):
            document.user_edit()
    reply = document.client.wait_response(msg_id, timeout=300)
    error = reply.get("error")
    if error is not None:
        if error["code"] == CONTENT_MODIFIED and document.version != started:
            tally.refused_content_modified += 1
        else:
            tally.other_errors.append(f"{name}: {error['code']} {error['message'][:200]}")
        return
    if by_command:  # the edit came as workspace/applyEdit, applied (or not) when it arrived
        applied = document.version != started
    else:
        edit = (reply.get("result") or {}).get("edit")
        if edit is not None and document.version != started:
            tally.violations.append(f"{name}: an edit computed for version {started} came back after the user changed it (now {document.version})")
        applied = edit is not None and document.apply_workspace_edit(edit)
    if applied:
        below = next(text for text in document.lines[line:] if not text.lstrip().startswith("#"))
        if not below.startswith(f"def {name}("):
            tally.violations.append(f"{name}: the comment was not put above its function")


def save_and_wait_for_stubs(document: EditedDocument, tally: Tally, test_file: Path, timeout: float = 5.0) -> None:
    """Save, then give the debounced on-save stubs time to arrive (a didClose cancels them)."""
    document.save()
    if not document.client.serve_until(test_file.exists, timeout):
        tally.stub_waits_timed_out += 1


def run_session(client, folder: Path, session: int, tally: Tally, test_files: TestFiles | None = None) -> None:
    rng = random.Random(session)
    path = folder / f"session_{session}.py"
    document = EditedDocument(client, path, session, rng, tally)
    path.write_text(document.text, encoding="utf-8")

    def on_request(method, params):
        if method != "workspace/applyEdit":
            return None
        if test_files is not None and TestFiles.holds(params["edit"]):  # on-save stubs, any session's
            return {"applied": test_files.apply(params["edit"])}
        return {"applied": document.apply_workspace_edit(params["edit"])}

    client.on_request = on_request
    for _ in range(rng.randint(3, 12)):
        if rng.random() < 0.15:
            document.save()
        else:
            document.user_edit()
    if session % MODEL_EVERY == MODEL_EVERY - 1:
        run_model_action(document, rng)
        document.user_edit()
    if test_files is not None and session % 4 == 0:
        save_and_wait_for_stubs(document, tally, folder.parent / "tests" / f"test_session_{session}.py")
        document.save()  # saved again unchanged: must add nothing (TestFiles checks duplicates)
    document.check_user_lines()
    document.check_server_agrees()
    client.notify("textDocument/didClose", {"textDocument": {"uri": document.uri}})
    tally.sessions += 1


def test_editing_sessions_lose_no_user_line_and_stale_edits_are_refused(tmp_path: Path):
    # A package with a tests/ folder: on-save stubs are on by default there, so saves add stubs
    # to tests/test_session_N.py through workspace/applyEdit, checked by TestFiles.
    folder = tmp_path / "edits"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (tmp_path / "tests").mkdir()
    client = start_server(tmp_path, OPTIONS, capabilities=CAPABILITIES)
    tally = Tally()
    test_files = TestFiles(tally)
    try:
        for session in range(SESSIONS):
            run_session(client, folder, session, tally, test_files)
            assert client.alive()
            assert not tally.violations, tally.violations
            if session % 100 == 99:
                print(f"\ndata safety: {session + 1} sessions done, {tally.model_actions} model actions, 0 violations, "
                      f"{len(tally.other_errors)} other errors, {tally.stub_edits} stub edits", flush=True)
    finally:
        client.close()
    print(f"\ndata safety: {tally.sessions} sessions, {tally.edits} user edits, {tally.saves} saves, {tally.model_actions} model actions "
          f"({tally.applied} edits applied, {tally.refused_content_modified} refused with ContentModified), "
          f"{tally.stub_edits} on-save stub edits ({tally.stub_tests} stub tests, {tally.stub_waits_timed_out} waits without one), "
          f"{len(tally.violations)} violations, other errors: {tally.other_errors}")
    assert not tally.other_errors
    assert tally.model_actions == SESSIONS // MODEL_EVERY
    assert tally.stub_edits > 0, "no save produced on-save stubs: the harness no longer covers them"


def test_regression_explain_as_comment_after_the_user_typed_is_refused(tmp_path: Path):
    """The comment edit used to be computed with the old target's line on the new text and sent
    for the new version: the editor applied it, in the wrong place. Both ways in: codeAction/resolve
    and the command (which would have sent workspace/applyEdit)."""
    client = start_server(tmp_path, OPTIONS, capabilities=CAPABILITIES)
    tally = Tally()
    try:
        document = EditedDocument(client, tmp_path / "typed.py", 0, random.Random(3), tally)
        client.on_request = lambda method, params: {"applied": document.apply_workspace_edit(params["edit"])} if method == "workspace/applyEdit" else None
        at = {"line": 0, "character": 4}
        for by_command in (False, True):
            if by_command:
                msg_id = client.send_request("workspace/executeCommand", {"command": "gemma-lsp.explainAsComment", "arguments": [document.uri, {"start": at, "end": at}]})
            else:
                msg_id = client.send_request("codeAction/resolve", document.comment_action(0))
            document.user_edit()  # the model takes far longer than this edit to arrive
            reply = client.wait_response(msg_id, timeout=300)
            assert reply.get("error", {}).get("code") == CONTENT_MODIFIED, (by_command, reply)
            # The edit may land while the request is still being prepared or while the model works:
            # both are refused before any edit is built, and the message says which.
            assert re.search(r"typed\.py changed while (the model worked|the request was prepared); ask again", reply["error"]["message"]), reply
        document.check_user_lines()
        assert not tally.violations and tally.applied == 0
    finally:
        client.close()


def test_regression_explain_of_a_function_that_moved_before_the_request_ran(tmp_path: Path):
    """The 1,000-session run: the user typed right after asking, lines moved above the function,
    and the request, started after that didChange, looked for a function at the old line: -32803
    "No function ... at line N" instead of ContentModified. Lines pushed the function down here;
    either the request sees the move (refused before the model runs) or the answer arrives for
    an older version (refused after): ContentModified both ways, never another error."""
    client = start_server(tmp_path, OPTIONS, capabilities=CAPABILITIES)
    try:
        path = tmp_path / "moved.py"
        text = "def moved(x):\n    return x + 1\n"
        path.write_text(text)
        uri = path.as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        for version, command in enumerate(["gemma-lsp.explainAsComment", "gemma-lsp.explain"] * 10, start=2):
            at = {"line": text.splitlines().index("def moved(x):"), "character": 4}  # where it is now
            msg_id = client.send_request("workspace/executeCommand", {"command": command, "arguments": [uri, {"start": at, "end": at}]})
            text = "\n\n\n" + text  # three blank lines typed above: the function moves down
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})
            reply = client.wait_response(msg_id, timeout=300)
            error = reply.get("error")
            if command.endswith("AsComment") or error is not None:
                assert error is not None and error["code"] == CONTENT_MODIFIED, (command, reply)
    finally:
        client.close()
