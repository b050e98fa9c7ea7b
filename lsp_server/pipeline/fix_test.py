"""Fix failing test: run the test in the jail on the editor's text, ask the model for the root cause
and a fix, verify the fix (the test must pass now, the tests that passed must still pass)."""

from __future__ import annotations

import dataclasses

from lsp_server.actions import fix_test
from lsp_server.actions.fix_test import Candidate, Failure, FixProposal
from lsp_server.assistant import Assistant
from lsp_server.errors import InvalidRequest
from lsp_server.index.symbols import Definition
from lsp_server.model.backend import CancelToken
from lsp_server.model.thinking import folded_thought
from lsp_server.pipeline.run import Ask, Checked, Prepared, Watch, pack, run_model
from lsp_server.verify.checks import sandbox_refusal
from lsp_server.verify.jail import NO_SANDBOX
from lsp_server.verify.shadow import FileChange

NOT_FAILING = {
    "passed": ("{name} passes already: there is nothing to fix.", "the test passes already"),
    "skipped": ("{name} is skipped, so it cannot be fixed by running it; remove the skip first.", "the test skipped"),
    "timed out": ("{name} did not finish within verify.timeoutSeconds; a hanging test cannot be fixed this way.", "the test timed out"),
}


@dataclasses.dataclass(frozen=True)
class NotFailing:
    """The test did not fail: nothing to fix. ``message`` for the user, ``reason`` in a few words."""

    message: str
    reason: str


@dataclasses.dataclass(frozen=True)
class PreparedFix(Prepared):
    test: Definition | None = None
    failure: Failure | None = None
    found: tuple[Candidate, ...] = ()
    """The functions the failure went through: what the fix may replace."""
    unsaved: tuple[FileChange, ...] = ()


@dataclasses.dataclass(frozen=True)
class FixResult(Checked):
    fix: FixProposal | None = None


def failing_test(ask: Ask) -> Definition:
    """The test function at the ask's line; InvalidRequest when there is none."""
    test = fix_test.test_at(ask.path, ask.text, ask.start[0])
    if test is None:
        raise InvalidRequest(f"No test function at line {ask.start[0] + 1} of {ask.path.name}: put the cursor in a test_* function of a test file.")
    return test


def prepare(assistant: Assistant, ask: Ask, unsaved: tuple[FileChange, ...]) -> PreparedFix | NotFailing:
    """Run the test on the editor's text (``unsaved``); when it fails, pack the test, the failure
    and the code it went through."""
    test = failing_test(ask)
    settings = assistant.settings.verify
    if not settings.run_tests:
        raise InvalidRequest("Fix failing test runs the test, but verify.runTests is off: turn it on to use this action.")
    if sandbox_refusal(settings):
        raise InvalidRequest(f"Fix failing test runs the test, but there is {NO_SANDBOX} (see gemma-lsp doctor): install bubblewrap, or set verify.allowUnsandboxed if you accept running model-written code with your rights.")
    root = ask.root
    failure = fix_test.run_test(root, list(unsaved), fix_test.node_id(ask.path, root, test.qualname), settings)
    if failure.outcome in NOT_FAILING:
        message, reason = NOT_FAILING[failure.outcome]
        return NotFailing(message.format(name=test.name), reason)
    found = fix_test.candidates(failure, root, ask.path, ask.text, test, ask.read_text)
    at_test = dataclasses.replace(ask, start=(test.start_line, 0), end=(test.start_line, 0))
    packed = fix_test.with_code_under_test(pack(assistant, at_test), found, root)
    model = assistant.settings.model

    def request_for(style: str):
        return fix_test.build_request(packed, fix_test.for_prompt(failure, root), found, style, model.max_tokens, model.temperature)

    return PreparedFix("fix_test", packed, root, request_for, test, failure, tuple(found), unsaved)


def run(assistant: Assistant, prepared: PreparedFix, watch: Watch, cancel: CancelToken) -> FixResult:
    generation = run_model(assistant, prepared, watch, cancel)  # checks the test is still current
    watch.on_stage("verifying the fix")
    root = prepared.root
    fix = fix_test.propose(list(prepared.found), prepared.failure, generation.text, root, assistant.settings.verify, prepared.unsaved, watch.on_stage)
    ok = fix.proposal.verification.ok
    refused = None if ok else fix_test.refusal(fix, root)
    document = fix_test.markdown(fix, fix.proposal.verification.summary(), ok, root) + folded_thought(generation.thought)
    return FixResult(generation, tuple(prepared.manifest), fix.proposal.verification, refused, document, fix)
