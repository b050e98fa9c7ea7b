"""A refused proposal in the user's words (actions/outcome.py): every mapping, and no verifier file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.actions import outcome
from lsp_server.verify import checks
from lsp_server.verify.checks import CheckResult
from lsp_server.verify.verifier import Verification

ROOT = Path("/home/ada/project")
TESTS = ROOT / "tests" / "test_recurring.py"
CODE = ROOT / "shop" / "pricing.py"


def refused(checks: list[CheckResult], path: Path = CODE, code: str = "def f():\n    return 1\n", tests: checks.TestRun | None = None, action: str = "refactor") -> outcome.Outcome:
    return outcome.refused(Verification(False, checks, tests), action, "apply_discount", path, ROOT, code)


def test_an_undefined_name_in_generated_tests_speaks_of_the_users_test_file():
    lint = CheckResult("lint", False, "test_recurring_gemma_probe.py:8: F821 Undefined name `Decimal`")
    result = refused([CheckResult("parse", True), lint], TESTS, action="generate_tests")
    assert result.reason == "the tests use `Decimal` without importing or defining it"
    assert result.title == "not offered: the tests use `Decimal` without importing or defining it"
    assert result.tried == "Generate tests for `apply_discount`" and result.path == "tests/test_recurring.py"
    assert "lint: failed (tests/test_recurring.py:8: F821 Undefined name `Decimal`)" in result.details
    shown = outcome.markdown(result, "def test_x():\n    assert Decimal(1)\n", "answer") + result.message
    assert "_gemma_probe" not in shown and "test_recurring.py`" in shown and "`tests/test_recurring.py`" in shown


def test_a_missing_import_still_offers_what_can_be_kept():
    lint = CheckResult("lint", False, "pricing.py:3: F821 Undefined name `Decimal`; pricing.py:4: F821 Undefined name `date`")
    result = refused([CheckResult("parse", True), lint])
    assert result.reason == "the new code uses `Decimal` and `date` without importing or defining them"
    assert result.remedies == (
        outcome.RETRY,
        "Copy the proposal from **The proposed code** below.",
        "Open it as an unsaved draft: the code block under **The proposed code**.",
        "After copying the proposal, add the import of `Decimal` and `date` yourself.",
        "Open the checks' details: **What was checked** below.",
    )


def test_nothing_to_copy_when_the_answer_held_no_code():
    result = refused([CheckResult("shape", False, "the answer holds no replacement for median, test_median_even")], code="")
    assert result.reason == "the model's answer did not contain a new version of `median` or `test_median_even`"
    assert not any("Copy" in r or "draft" in r for r in result.remedies)
    assert "## The proposed code" not in outcome.markdown(result, "", "The median is wrong.")


@pytest.mark.parametrize(("detail", "reason"), [
    ("the answer is not an implementation of clamp", "the model's answer did not contain an implementation of `clamp`"),
    ("the answer does not define apply_discount any more", "the model's answer no longer defines `apply_discount`"),
])
def test_shape_failures(detail, reason):
    assert refused([CheckResult("shape", False, detail)]).reason == reason


@pytest.mark.parametrize(("check", "reason"), [
    (CheckResult("parse", False, "pricing.py:7: invalid syntax"), "the answer is not valid Python (line 7: invalid syntax)"),
    (CheckResult("lint", False, "pricing.py:2: E902 No such file"), "the answer is not valid Python (line 2: No such file)"),
    (CheckResult("lint", False, "pricing.py:5: F701 `break` outside loop"), "the new code puts a statement where Python does not allow it (line 5: `break` outside loop)"),
    (CheckResult("lint", False, "pricing.py:5: F632 Use `==` to compare constant literals"), "the new code holds a check that is always true or invalid (line 5: Use `==` to compare constant literals)"),
    (CheckResult("lint", False, "pricing.py:9: F823 Local variable `x` referenced before assignment"), "the new code uses a local name before assigning it (line 9: Local variable `x` referenced before assignment)"),
    (CheckResult("lint", False, "ruff could not run: no ruff"), "the lint check could not run (ruff could not run: no ruff)"),
    (CheckResult("change", False, "the model gave the code back unchanged"), "the model gave the code back unchanged"),
])
def test_parse_and_lint_failures(check, reason):
    assert refused([check]).reason == reason


@pytest.mark.parametrize(("detail", "reason"), [
    ("2 test(s) that passed before now fail: tests.test_pricing::test_a, tests.test_pricing::test_b", "2 of the tests that passed before now fail: test_a, test_b"),
    ("the tests timed out", "the tests did not finish in time"),
    ("the tests did not run: ERROR collecting\nE   ImportError: no module named shop", "the tests could not be collected: E   ImportError: no module named shop"),
    ("no generated test was left to offer", "none of the generated tests was left once the broken ones were dropped"),
    ("0 generated tests pass, 0 fail on the current code (marked xfail: possible bug), 3 dropped", "none of the generated tests could be kept (3 dropped: broken, or testing nothing of the target)"),
    ("4 tests passed, 2 failed", "2 of the tests fail with the change"),
])
def test_test_failures(detail, reason):
    assert refused([CheckResult("parse", True), CheckResult("lint", True), CheckResult("tests", False, detail)]).reason == reason


def test_a_fix_that_does_not_fix_quotes_the_failure():
    run = checks.TestRun(outcomes={"tests.test_stats::test_median": "failed"}, messages={"tests.test_stats::test_median": "assert 3 ==\n 2.5"})
    check = CheckResult("tests", False, "tests/test_stats.py::test_median still does not pass (failed)")
    assert refused([check], tests=run).reason == "the test still fails: assert 3 == 2.5"
    assert refused([check]).reason == "the test `test_median` still does not pass (failed)"


def test_settings_that_stop_the_tests_come_with_what_to_do_first():
    sandbox = refused([CheckResult("tests", False, "tests not run: no sandbox on this machine")])
    assert sandbox.reason == "the tests could not run: there is no sandbox on this machine"
    assert sandbox.remedies[0] == outcome.SANDBOX and "bubblewrap" in sandbox.remedies[0] and "verify.allowUnsandboxed" in sandbox.remedies[0]
    off = refused([CheckResult("tests", False, "verify.runTests is off, so the fix could not be checked")])
    assert off.reason == "the fix could not be checked: running tests is off (verify.runTests)" and "verify.runTests" in off.remedies[0]
    slow = refused([CheckResult("tests", False, "the tests timed out")])
    assert slow.remedies[0] == outcome.RETRY and any("verify.timeoutSeconds" in r for r in slow.remedies)


def test_no_shadow_or_probe_path_leaks():
    shadow = "/tmp/gemma-lsp-shadow-abc123/project/tests/test_recurring_gemma_probe.py"
    check = CheckResult("tests", False, f"the tests did not run: ERROR collecting {shadow}\nE   in {shadow}:3 and tests.test_recurring_gemma_probe")
    result = refused([check], TESTS)
    text = outcome.markdown(result, "x = 1\n", "answer") + result.message + result.title
    assert "gemma-lsp-shadow" not in text and "_gemma_probe" not in text and "tests/test_recurring.py:3" in text
    assert outcome.in_user_terms("pricing.py:3; test_pricing.py:4; shop/pricing.py", "shop/pricing.py") == "shop/pricing.py:3; test_pricing.py:4; shop/pricing.py"
    assert outcome.probe_path(TESTS) == ROOT / "tests" / "test_recurring_gemma_probe.py"


def test_the_document_holds_the_verdict_the_remedies_the_code_and_the_answer():
    result = refused([CheckResult("parse", True), CheckResult("lint", False, "pricing.py:3: F821 Undefined name `Decimal`")])
    shown = outcome.markdown(result, "def f():\n    return Decimal(1)\n", "raw answer")
    assert shown.startswith("Refactor `apply_discount`: the proposed edit to `shop/pricing.py` failed verification and was not offered: the new code uses `Decimal`")
    assert "**What you can do:**\n\n- Retry" in shown and "## The proposed code\n\n```python\ndef f():\n    return Decimal(1)\n```" in shown
    assert "## What was checked\n\n- parse: ok\n- lint: failed (shop/pricing.py:3: F821" in shown and "## The model's answer\n\n```\nraw answer\n```" in shown
    assert result.message.startswith("Refactor `apply_discount`: the proposal failed verification and was not offered: the new code uses `Decimal`")


def test_an_answer_holding_a_fence_cannot_break_out_of_its_block():
    answer = "def test_a():\n    pass\n```\n# test_pricing.py (current file)\n| a | b |"
    shown = outcome.markdown(outcome.Outcome("Generate tests for `f`", "t.py", "why", (), ()), answer, answer)
    assert "\n````python\n" + answer + "\n````\n" in shown and "\n````\n" + answer + "\n````\n" in shown
    assert outcome.fenced("plain") == "```\nplain\n```\n"
