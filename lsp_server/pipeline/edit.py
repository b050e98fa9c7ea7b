"""Refactor, Generate tests and Implement: the model's answer becomes a proposal, verified in a
shadow copy of the workspace. A proposal that failed comes back with why, in the user's words
(actions/outcome.py), and the document that shows it; the caller offers only a verified one."""

from __future__ import annotations

import dataclasses

from lsp_server.actions import generate_tests, implement, outcome, refactor
from lsp_server.actions.generate_tests import TestPlan
from lsp_server.actions.proposal import Proposal
from lsp_server.assistant import Assistant
from lsp_server.context.build import read_file
from lsp_server.context.target import Target
from lsp_server.model.backend import CancelToken
from lsp_server.model.thinking import folded_thought
from lsp_server.pipeline.run import Ask, Checked, Prepared, Watch, pack, run_model, sample_again
from lsp_server.verify.select import tests_importing

ACTIONS = ("refactor", "generate_tests", "implement")


@dataclasses.dataclass(frozen=True)
class PreparedEdit(Prepared):
    text: str = ""
    """The document's text the edit is for."""
    instruction: str | None = None
    test_plan: TestPlan | None = None
    """Generate tests: where the tests go and what they may import."""


@dataclasses.dataclass(frozen=True)
class EditResult(Checked):
    action: str = ""
    target: Target | None = None
    proposal: Proposal | None = None


def prepare(assistant: Assistant, action: str, ask: Ask, instruction: str | None = None) -> PreparedEdit:
    packed = pack(assistant, ask)
    model = assistant.settings.model
    # The module's own imports may serve the tests.
    test_plan = generate_tests.plan(packed, ask.root, ask.text) if action == "generate_tests" else None

    def request_for(style: str):
        if action == "refactor":
            return refactor.build_request(packed, instruction, style, model.max_tokens, model.temperature)
        if action == "implement":
            return implement.build_request(packed, style, model.max_tokens, model.temperature)
        return generate_tests.build_request(packed, test_plan, style, model.max_tokens, model.temperature)

    return PreparedEdit(action, packed, ask.root, request_for, ask.text, instruction, test_plan)


def run(assistant: Assistant, prepared: PreparedEdit, watch: Watch, cancel: CancelToken) -> EditResult:
    """Generate and verify; while verification refuses an answer for what it holds, ask again with
    a fresh sample, up to ``verify.attempts`` answers (the stream and the progress say so)."""
    attempts = assistant.settings.verify.attempts
    target = prepared.packed.target
    for attempt in range(attempts):
        if attempt:
            why = outcome.refused(proposal.verification, prepared.action, target.name, proposal.path, prepared.root).reason
            watch.on_stage(f"answer {attempt} refused; asking again ({attempt + 1} of {attempts})")
            watch.on_text(f"\n\n*Answer {attempt} was not offered: {why}. Answer {attempt + 1} of {attempts}:*\n\n")
        generation = run_model(assistant, prepared, watch, cancel, **sample_again(assistant, attempt))
        watch.on_stage("verifying")
        proposal = _propose(assistant, prepared, generation.text, watch)
        if proposal.verification.ok or not outcome.answer_at_fault(proposal.verification):
            break
    refused = None
    document = ""
    if not proposal.verification.ok:
        refused = outcome.refused(proposal.verification, prepared.action, target.name, proposal.path, prepared.root, proposal.new_text)
        document = outcome.markdown(refused, proposal.new_text, proposal.answer) + folded_thought(generation.thought)
    return EditResult(generation, tuple(prepared.manifest), proposal.verification, refused, document, prepared.action, target, proposal)


def _propose(assistant: Assistant, prepared: PreparedEdit, answer: str, watch: Watch) -> Proposal:
    root, verify = prepared.root, assistant.settings.verify
    if prepared.test_plan is not None:
        plan = prepared.test_plan
        return generate_tests.propose(plan, answer, read_file(plan.test_file), root, verify, watch.on_stage)
    target_path = prepared.packed.target.path
    tests = tests_importing(root, generate_tests.module_name(target_path, root))
    action = refactor if prepared.action == "refactor" else implement
    return action.propose(prepared.packed, prepared.text, answer, root, tests, verify, watch.on_stage)
