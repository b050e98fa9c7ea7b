"""Change...: an instruction carried out across files. The context holds the code asked about and
what the instruction names; the model answers with edits to one or more files; the proposal is
applied and verified in the shadow copy (actions/change.py) before anyone may offer it. A
follow-up instruction refines the previous proposal."""

from __future__ import annotations

import dataclasses

from lsp_server.actions import change, change_prompt, outcome
from lsp_server.actions.change import ChangeProposal
from lsp_server.assistant import Assistant
from lsp_server.context.build import read_file
from lsp_server.context.imports import ReadText
from lsp_server.errors import InvalidRequest
from lsp_server.model.backend import CancelToken
from lsp_server.model.thinking import folded_thought
from lsp_server.pipeline.run import Ask, Checked, Prepared, Watch, pack, run_model
from lsp_server.verify.shadow import FileChange

NO_INSTRUCTION = 'Change... needs an instruction: say what to change, e.g. "log each failed login".'


@dataclasses.dataclass(frozen=True)
class PreparedChange(Prepared):
    instruction: str = ""
    fmt: str = change_prompt.DEFAULT_FORMAT
    """The answer format asked of the model (symbols, search_replace, diff)."""
    previous: ChangeProposal | None = None
    """The proposal a follow-up instruction refines."""
    read_text: ReadText = read_file
    unsaved: tuple[FileChange, ...] = ()
    """The editor's unsaved files: the proposal is verified on what the user sees."""


@dataclasses.dataclass(frozen=True)
class ChangeResult(Checked):
    proposal: ChangeProposal | None = None


def prepare(assistant: Assistant, ask: Ask, instruction: str, previous: ChangeProposal | None = None,
            unsaved: tuple[FileChange, ...] = (), fmt: str = change_prompt.DEFAULT_FORMAT) -> PreparedChange:
    if not instruction.strip():
        raise InvalidRequest(NO_INSTRUCTION)
    instruction = instruction.strip()
    packed = previous.packed if previous is not None and previous.packed is not None else pack(assistant, ask, instruction)
    fmt = previous.format if previous is not None else fmt
    model = assistant.settings.model

    def request_for(style: str):
        if previous is not None:
            return change.followup(previous, instruction, style, model.max_tokens, model.temperature)
        return change_prompt.build_request(packed, instruction, style, model.max_tokens, model.temperature, fmt)

    return PreparedChange("change", packed, ask.root, request_for, instruction, fmt, previous, ask.read_text, unsaved)


def run(assistant: Assistant, prepared: PreparedChange, watch: Watch, cancel: CancelToken) -> ChangeResult:
    generation = run_model(assistant, prepared, watch, cancel)
    watch.on_stage("verifying")
    proposal = change.propose(prepared.packed, prepared.instruction, generation.text, prepared.fmt, prepared.root,
                              assistant.settings.verify, prepared.read_text, prepared.previous, prepared.unsaved,
                              watch.on_stage)
    refused, document = None, ""
    if not proposal.ok:
        refused = change.refusal(proposal, prepared.root)
        document = outcome.markdown(refused, proposal.diff(prepared.root), proposal.answer, "diff") + folded_thought(generation.thought)
    return ChangeResult(generation, tuple(prepared.manifest), proposal.verification, refused, document, proposal)
