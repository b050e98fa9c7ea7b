"""Refactor, Generate tests and Implement over LSP.

The model's answer becomes a proposal that is verified in a shadow copy of the workspace; only a
proposal that passed is offered as a WorkspaceEdit (versioned, so a client refuses it once the
file changed, and annotated with what was checked). A failed one is shown in the user's words
(actions/outcome.py: why, what they can do), with the proposed code and the model's raw answer.
A document edited while the action ran gets ContentModified.
"""

from __future__ import annotations

import asyncio

from lsprotocol import types

from lsp_server.actions import generate_tests, implement, outcome, refactor
from lsp_server.actions.proposal import Proposal
from lsp_server.context.build import read_file
from lsp_server.features import documents, explain
from lsp_server.features.capabilities import resource_create_supported
from lsp_server.features.model_run import ModelRun, run_model
from lsp_server.features.server_api import Server
from lsp_server.model.backend import CancelToken
from lsp_server.model.thinking import folded_thought
from lsp_server.verify.select import tests_importing

TITLES = {"refactor": "Refactoring", "generate_tests": "Writing tests for", "implement": "Implementing"}


async def propose_edit(ls: Server, kind: str, uri: str, rng: types.Range, cancel: CancelToken, instruction: str | None = None) -> tuple[types.WorkspaceEdit | None, str]:
    """Run the action; returns the verified edit (or None) and what the verification said."""
    model = ls.assistant.settings.model
    plans = {}

    def make_request(packed, style):
        if kind == "refactor":
            return refactor.build_request(packed, instruction, style, model.max_tokens, model.temperature)
        if kind == "implement":
            return implement.build_request(packed, style, model.max_tokens, model.temperature)
        source = documents.get_document(ls.workspace, uri).source  # its imports may serve the tests
        plans["tests"] = generate_tests.plan(packed, documents.workspace_root(ls.workspace, packed.target.path), source)
        return generate_tests.build_request(packed, plans["tests"], style, model.max_tokens, model.temperature)

    run = await run_model(ls, uri, rng, cancel, TITLES[kind], make_request, action=kind)
    proposal = await asyncio.to_thread(_propose, ls, kind, run, plans.get("tests"))
    documents.refuse_if_changed(ls.workspace, uri, run.version, "the model worked")
    summary = proposal.verification.summary()
    if not proposal.verification.ok:
        root = documents.workspace_root(ls.workspace, run.packed.target.path)
        refused = outcome.refused(proposal.verification, kind, run.packed.target.name, proposal.path, root, proposal.new_text)
        shown = outcome.markdown(refused, proposal.new_text, proposal.answer) + folded_thought(run.generation.thought)
        await explain.show_text(ls, kind.replace("_", "-"), run.packed.target.path, run.packed.target.name, shown, refused.message)
        return None, refused.reason
    return workspace_edit(ls, proposal, summary), summary


def _propose(ls: Server, kind: str, run: ModelRun, test_plan) -> Proposal:
    root = documents.workspace_root(ls.workspace, run.packed.target.path)
    verify = ls.assistant.settings.verify
    answer = run.generation.text
    if kind == "generate_tests":
        return generate_tests.propose(test_plan, answer, read_file(test_plan.test_file), root, verify)
    tests = tests_importing(root, generate_tests.module_name(run.packed.target.path, root))
    action = refactor if kind == "refactor" else implement
    return action.propose(run.packed, run.document.source, answer, root, tests, verify)


def workspace_edit(ls: Server, proposal: Proposal, summary: str) -> types.WorkspaceEdit:
    uri = proposal.path.as_uri()
    caps = ls.client_capabilities
    annotation = "gemma-lsp"
    annotations = {annotation: types.ChangeAnnotation(label=f"verified: {summary}", needs_confirmation=False)}
    if proposal.create:
        edit = types.TextEdit(_range(None, 0, 0), proposal.new_text)
        if not resource_create_supported(caps):
            return types.WorkspaceEdit(changes={uri: [edit]})
        return documents.create_file_edit(uri, [edit], annotations)
    document = documents.get_document(ls.workspace, uri)
    edits = [types.TextEdit(_range(document, proposal.start_line, proposal.end_line), proposal.new_text)]
    if proposal.imports:  # above the replaced lines (proposal.py), so the two never overlap
        edits.insert(0, types.TextEdit(_range(document, proposal.imports_line, proposal.imports_line), proposal.imports))
    return documents.versioned_edit(caps, document, edits, annotations)


def _range(document, start_line: int, end_line: int) -> types.Range:
    """Lines [start_line, end_line) of the document; clamped to its end (a last line without newline)."""
    if document is None:
        return types.Range(types.Position(0, 0), types.Position(0, 0))
    lines = document.lines
    return types.Range(_position(lines, start_line), _position(lines, end_line))


def _position(lines, line: int) -> types.Position:
    if line < len(lines) or (lines and lines[-1].endswith("\n")) or not lines:
        return types.Position(line, 0)
    last = len(lines) - 1
    return types.Position(last, len(lines[last].encode("utf-16-le")) // 2)

