"""A simulated editor for data-safety runs: it keeps the document as the user sees it, edits it
the way a user does (incremental didChange in UTF-16 positions), saves, and applies the server's
edits the way an editor does: a versioned edit only to the version it names.

Every line the user typed carries a unique marker (``u_<session>_<n>``), so after any sequence of
edits the user's lines can be checked: none lost, none duplicated, none changed but by the user.
Server edits may only add lines (comments, new files); anything else is a violation.

Server-initiated edits (workspace/applyEdit: commands for clients without resolve, and on-save
hooks such as generated test stubs) go through ``apply_workspace_edit`` too, with the same
version rule, so an on-save feature is covered by adding a save step that expects its edit.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from tests.robustness.rawclient import RawClient

CONTENT_MODIFIED = -32801
USER_LINE = re.compile(r"^\s*(u_\d+_\d+) = ")
CAPABILITIES = {
    "textDocument": {
        "codeAction": {"dataSupport": True, "resolveSupport": {"properties": ["edit"]}, "codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["", "refactor", "refactor.rewrite"]}}},
        "synchronization": {"didSave": True},
    },
    "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True, "resourceOperations": ["create"]}},
}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Tally:
    sessions: int = 0
    edits: int = 0
    saves: int = 0
    model_actions: int = 0
    applied: int = 0
    refused_content_modified: int = 0
    stub_edits: int = 0
    """On-save stub edits applied to test files."""
    stub_tests: int = 0
    """Test functions those edits added."""
    stub_waits_timed_out: int = 0
    """Saves after which no stub file appeared in time (not a violation: nothing may have been due)."""
    other_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def uri_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


class TestFiles:
    """The test files that on-save stubs go to, applied and saved as an editor would. Checked:
    a file is created only where none exists; an existing line is never changed or removed (the
    old text stays a subsequence of the new); no test name appears twice (saving twice adds
    nothing twice). Called where the client answers the server's requests."""

    __test__ = False  # not a pytest class

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    @staticmethod
    def holds(edit: dict) -> bool:
        changes = edit.get("documentChanges") or [{"textDocument": {"uri": u}} for u in edit.get("changes") or {}]
        return any("/tests/" in (c.get("uri") or c["textDocument"]["uri"]) for c in changes)

    def apply(self, edit: dict) -> bool:
        changes = edit.get("documentChanges") or [{"textDocument": {"uri": u, "version": None}, "edits": e} for u, e in (edit.get("changes") or {}).items()]
        for change in changes:
            if change.get("kind") == "create":
                if uri_path(change["uri"]).exists() and not (change.get("options") or {}).get("ignoreIfExists"):
                    self.tally.violations.append(f"a CreateFile over the existing {change['uri']}")
                    return False
                continue
            path = uri_path(change["textDocument"]["uri"])
            old = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
            new = insert_lines(old, change["edits"])
            if new is None:
                self.tally.violations.append(f"a stub edit to {path.name} replaced text: {change['edits']}")
                return False
            names = re.findall(r"^def (test_\w+)", "".join(new), re.MULTILINE)
            if len(names) != len(set(names)):
                self.tally.violations.append(f"{path.name}: a test stub was added twice: {sorted(n for n in set(names) if names.count(n) > 1)}")
            path.write_text("".join(new), encoding="utf-8")  # the editor saves the test file
            self.tally.stub_edits += 1
            self.tally.stub_tests += len(names) - len(re.findall(r"^def test_", "".join(old), re.MULTILINE))
        return True


def insert_lines(old: list[str], edits: list[dict]) -> list[str] | None:
    """``old`` with the edits applied, or None if one of them changes or removes old text (only
    insertions at a line start, or after the last line, are additions)."""
    new = list(old)
    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]), reverse=True):
        start, end = edit["range"]["start"], edit["range"]["end"]
        if start != end:
            return None
        line, column = start["line"], start["character"]
        if column and not (line < len(new) and column == len(new[line].rstrip("\n"))) and not (line == len(new) and column == 0):
            return None
        text = edit["newText"]
        if column:  # appended at the end of a line: keep that line as it was, add after it
            new[line] = new[line].rstrip("\n") + text + ("\n" if new[line].endswith("\n") else "")
            new[line:line + 1] = new[line].splitlines(keepends=True)
        else:
            new[line:line] = text.splitlines(keepends=True)
    joined_old, joined_new = "".join(old), "".join(new)
    it = iter(joined_new)
    return new if all(ch in it for ch in joined_old) else None


class EditedDocument:
    """One open document, its text and version as the editor has them."""

    def __init__(self, client: RawClient, path: Path, session: int, rng: random.Random, tally: Tally) -> None:
        self.client, self.path, self.uri, self.session, self.rng, self.tally = client, path, path.as_uri(), session, rng, tally
        self.functions = rng.randint(2, 5)
        self.lines = []
        self.typed = 0
        for k in range(self.functions):
            self.lines += [f"def fn_{session}_{k}(x):\n", *[self._user_line() for _ in range(rng.randint(1, 3))], "    return x\n", "\n", "\n"]
        self.version = 1
        self.user_lines = [line for line in self.lines if USER_LINE.match(line)]
        client.notify("textDocument/didOpen", {"textDocument": {"uri": self.uri, "languageId": "python", "version": 1, "text": self.text}})

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def _user_line(self) -> str:
        self.typed += 1
        return f'    u_{self.session}_{self.typed} = "\U0001f600é{self.rng.randint(0, 999)}"\n'

    # -- what the user does -----------------------------------------------------------------

    def _change(self, start: tuple[int, int], end: tuple[int, int], new_text: str, new_lines: list[str]) -> None:
        self.lines = new_lines
        self.version += 1
        self.tally.edits += 1
        change = {"range": {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}}, "text": new_text}
        self.client.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version}, "contentChanges": [change]})

    def user_edit(self) -> None:
        """Type a line, delete one, or change a value in the middle of a line (after an emoji)."""
        body = [i for i, line in enumerate(self.lines) if USER_LINE.match(line) or line.startswith("def ")]
        users = [i for i, line in enumerate(self.lines) if USER_LINE.match(line)]
        choice = self.rng.random()
        if choice < 0.5 or not users:
            at = self.rng.choice(body) + 1
            line = self._user_line()
            self.user_lines.insert(self._user_index(at), line)
            self._change((at, 0), (at, 0), line, self.lines[:at] + [line] + self.lines[at:])
        elif choice < 0.7 and len(users) > 1:
            at = self.rng.choice(users)
            self.user_lines.remove(self.lines[at])
            self._change((at, 0), (at + 1, 0), "", self.lines[:at] + self.lines[at + 1 :])
        else:
            at = self.rng.choice(users)
            old = self.lines[at]
            head = old[: old.index("é") + 1]
            new = f'{head}{self.rng.randint(0, 999)}"\n'
            self.user_lines[self.user_lines.index(old)] = new
            self._change((at, utf16_len(head)), (at, utf16_len(old) - 1), new[len(head) : -1], self.lines[:at] + [new] + self.lines[at + 1 :])

    def _user_index(self, line: int) -> int:
        return sum(1 for existing in self.lines[:line] if USER_LINE.match(existing))

    def save(self) -> None:
        self.path.write_text(self.text, encoding="utf-8")
        self.tally.saves += 1
        self.client.notify("textDocument/didSave", {"textDocument": {"uri": self.uri}, "text": self.text})

    # -- what the server sends --------------------------------------------------------------

    def apply_workspace_edit(self, edit: dict | None) -> bool:
        """Apply the edits for this document if they name its current version (as an editor does)."""
        if not edit:
            return False
        changes = edit.get("documentChanges") or [{"textDocument": {"uri": u, "version": None}, "edits": e} for u, e in (edit.get("changes") or {}).items()]
        for change in changes:
            if "kind" in change or change["textDocument"]["uri"] != self.uri:
                continue  # file creation and other documents: not this document's lines
            if change["textDocument"].get("version") != self.version:
                self.tally.violations.append(f"an edit for version {change['textDocument'].get('version')} reached version {self.version}")
                return False
            self._apply_text_edits(change["edits"])
        return True

    def _apply_text_edits(self, edits: list[dict]) -> None:
        for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]), reverse=True):
            start, end = edit["range"]["start"], edit["range"]["end"]
            if start != end or start["character"] != 0:
                self.tally.violations.append(f"a server edit replaced text instead of inserting lines: {edit}")
                return
            inserted = edit["newText"].splitlines(keepends=True)
            if not all(line.lstrip().startswith("#") for line in inserted):
                self.tally.violations.append(f"a server edit inserted more than comments: {edit['newText']!r}")
                return
            at = start["line"]
            self.lines = self.lines[:at] + inserted + self.lines[at:]
        self.version += 1
        self.tally.applied += 1
        # The editor tells the server about the applied edit, like any change.
        self.client.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version}, "contentChanges": [{"text": self.text}]})

    # -- checks -----------------------------------------------------------------------------

    def check_user_lines(self) -> None:
        now = [line for line in self.lines if USER_LINE.match(line)]
        if now != self.user_lines:
            lost = set(self.user_lines) - set(now)
            extra = [line for line in set(now) if now.count(line) > self.user_lines.count(line)]
            self.tally.violations.append(f"session {self.session}: user lines differ (lost {sorted(lost)[:3]}, duplicated or foreign {extra[:3]})")

    def check_server_agrees(self) -> None:
        """The server's copy matches: at every def line it offers to explain that function."""
        for number, line in enumerate(self.lines):
            if line.startswith("def "):
                name = line[4 : line.index("(")]
                reply = self.client.request("textDocument/codeAction", {"textDocument": {"uri": self.uri}, "range": {"start": {"line": number, "character": 4}, "end": {"line": number, "character": 4}}, "context": {"diagnostics": []}}, timeout=60)
                titles = [a["title"] for a in reply.get("result") or []]
                if f"Gemma: Explain {name}" not in titles:
                    self.tally.violations.append(f"session {self.session}: at line {number} the server does not see {name}: {titles or reply.get('error')}")

    def comment_action(self, line: int) -> dict | None:
        reply = self.client.request("textDocument/codeAction", {"textDocument": {"uri": self.uri}, "range": {"start": {"line": line, "character": 4}, "end": {"line": line, "character": 4}}, "context": {"diagnostics": []}}, timeout=60)
        return next((a for a in reply.get("result") or [] if a["title"].endswith("as a comment")), None)
