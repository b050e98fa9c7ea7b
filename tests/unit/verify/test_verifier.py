"""The verifier with fixed candidate edits: good, syntax error, undefined name, breaks a test,
hangs, tries the network; and the triage of generated tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.config import VerifySettings
from lsp_server.verify.salvage import Subject
from lsp_server.verify.shadow import FileChange, ShadowWorkspace
from lsp_server.verify.verifier import mark_tests, triage_generated_tests, verify_change

CALC = "def add(a, b):\n    return a + b\n\n\ndef div(a, b):\n    return a / b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
FAST = VerifySettings(timeout_seconds=30)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TESTS)
    return root


def verify(project: Path, new_calc: str, keep_passing=True, settings=FAST):
    return verify_change(project, [FileChange(project / "calc.py", new_calc)], ["test_calc.py"], settings, keep_passing=keep_passing)


def test_a_good_refactor_passes_and_says_what_was_checked(project):
    result = verify(project, CALC.replace("return a + b", "total = a + b\n    return total"))
    assert result.ok
    assert result.summary() == "parsed, lint clean, 1 tests passed before and after"
    assert (project / "calc.py").read_text() == CALC  # the user's tree is untouched


def test_each_step_is_told_for_progress(project):
    stages = []
    verify_change(project, [FileChange(project / "calc.py", CALC)], ["test_calc.py"], FAST, keep_passing=True, on_stage=stages.append)
    assert stages == ["verifying: parsing and linting", "verifying: running 1 test file on the proposal",
                      "verifying: running 1 test file on your code as it is"]
    stages.clear()
    triage_generated_tests(project, project / "test_generated.py", "from calc import add\n\n\ndef test_a():\n    assert add(1, 1) == 2\n", FAST, on_stage=stages.append)
    assert stages == ["verifying: parsing and linting", "verifying: running 1 generated test"]


def test_a_syntax_error_is_refused_before_anything_runs(project):
    result = verify(project, "def add(a, b)\n    return a + b\n")
    assert not result.ok and result.tests is None
    assert "parse failed: calc.py:1" in result.summary()


def test_an_undefined_name_is_refused_by_lint(project):
    result = verify(project, CALC.replace("return a + b", "return a + c"))
    assert not result.ok
    assert "F821" in result.summary() and "c" in result.summary()


def test_a_change_that_breaks_a_passing_test_is_refused(project):
    result = verify(project, CALC.replace("return a + b", "return a - b"))
    assert not result.ok
    assert "passed before now fail" in result.summary()


def test_a_hanging_test_run_times_out(project):
    (project / "test_calc.py").write_text("def test_forever():\n    while True:\n        pass\n")
    result = verify(project, CALC, keep_passing=False, settings=VerifySettings(timeout_seconds=3))
    assert not result.ok and result.tests.timed_out
    assert "timed out" in result.summary()


def test_the_network_is_unreachable_from_tests(project):
    (project / "test_calc.py").write_text(
        "import socket\n\n\ndef test_network():\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
    )
    result = verify(project, CALC, keep_passing=False)
    assert not result.ok
    assert result.tests.by_function() == {"test_network": "failed"}


def test_running_tests_can_be_turned_off(project):
    result = verify(project, CALC.replace("return a + b", "return a - b"), settings=VerifySettings(run_tests=False))
    assert result.ok and result.tests is None
    assert result.summary() == "parsed, lint clean"


def test_generated_tests_are_kept_marked_or_dropped(project):
    generated = (
        "from calc import add, div\n\n\n"
        "def test_add_ok():\n    assert add(1, 1) == 2\n\n\n"
        "def test_div_by_zero_returns_none():\n    assert div(1, 0) is None\n\n\n"
        "def test_broken_fixture(missing_fixture):\n    assert True\n"
    )
    triaged = triage_generated_tests(project, project / "test_generated.py", generated, FAST)
    assert triaged.kept == ["test_add_ok"]
    assert triaged.xfailed == ["test_div_by_zero_returns_none"]
    assert triaged.dropped == ["test_broken_fixture"]
    assert "@pytest.mark.xfail(reason='possible bug: ZeroDivisionError" in triaged.text
    assert "test_broken_fixture" not in triaged.text and triaged.text.startswith("import pytest\n")
    compile(triaged.text, "t.py", "exec")
    assert not (project / "test_generated.py").exists()


def test_generated_tests_that_do_not_collect_are_not_offered(project):
    triaged = triage_generated_tests(project, project / "test_generated.py", "from nowhere import thing\n\n\ndef test_x():\n    assert thing\n", FAST)
    assert not triaged.verification.ok
    assert triaged.kept == [] and triaged.dropped == ["test_x"]


def test_mark_tests_keeps_everything_else_byte_for_byte():
    text = "import os\n\n\ndef test_a():\n    assert 1\n\n\ndef test_b():\n    assert 0\n"
    assert mark_tests(text, {"test_b": "assert 0"}, set()) == (
        "import pytest\nimport os\n\n\ndef test_a():\n    assert 1\n\n\n"
        "@pytest.mark.xfail(reason='possible bug: assert 0', strict=False)\ndef test_b():\n    assert 0\n"
    )


def test_the_shadow_copy_skips_virtualenvs_and_applies_changes(project):
    (project / ".venv").mkdir()
    (project / ".venv" / "big.bin").write_bytes(b"x" * 1000)
    with ShadowWorkspace(project, [FileChange(project / "pkg" / "new.py", "X = 1\n")]) as shadow:
        assert not (shadow.path / ".venv").exists()
        assert (shadow.path / "pkg" / "new.py").read_text() == "X = 1\n"
        assert (shadow.path / "calc.py").read_text() == CALC
        copy = shadow.path
    assert not copy.exists()
    assert not (project / "pkg").exists()


def test_a_fix_must_make_the_named_test_pass(project):
    (project / "test_calc.py").write_text(TESTS.replace("import add", "import add, div") + "\n\ndef test_div_floors():\n    assert div(7, 2) == 3\n")
    node = "test_calc.py::test_div_floors"
    fixed = verify_change(project, [FileChange(project / "calc.py", CALC.replace("a / b", "a // b"))], ["test_calc.py"], FAST, keep_passing=True, must_pass=(node,))
    assert fixed.ok and fixed.summary() == "parsed, lint clean, test_calc.py::test_div_floors now passes, 1 tests passed before and after"
    unchanged = verify_change(project, [FileChange(project / "calc.py", CALC.replace("a / b", "a / b + 0"))], ["test_calc.py"], FAST, keep_passing=True, must_pass=(node,))
    assert not unchanged.ok and "test_calc.py::test_div_floors still does not pass (failed)" in unchanged.summary()


def test_a_fix_is_never_offered_unchecked_when_tests_are_off(project):
    result = verify_change(project, [FileChange(project / "calc.py", CALC)], ["test_calc.py"], VerifySettings(run_tests=False), must_pass=("test_calc.py::test_add",))
    assert not result.ok and "verify.runTests is off" in result.summary()


def test_unsaved_editor_text_is_in_the_shadow_before_and_after(project):
    unsaved = (FileChange(project / "test_calc.py", TESTS.replace("== 5", "== 6")),)
    result = verify_change(project, [FileChange(project / "calc.py", CALC.replace("a + b", "a + b + 1"))], ["test_calc.py"], FAST,
                           keep_passing=True, must_pass=("test_calc.py::test_add",), unsaved=unsaved)
    assert result.ok, result.summary()  # passes only against the editor's text of the test
    assert "== 5" in (project / "test_calc.py").read_text()


def test_node_ids_map_to_the_junit_names():
    from lsp_server.verify.checks import TestRun, junit_key

    assert junit_key("tests/test_a.py::TestX::test_y") == "tests.test_a.TestX::test_y"
    assert junit_key("test_a.py::test_b") == "test_a::test_b"
    run = TestRun(outcomes={"tests.test_a::test_p[1]": "passed", "tests.test_a::test_p[2]": "failed", "tests.test_a::test_q": "passed"})
    assert run.outcome_of("tests/test_a.py::test_p") == "failed" and not run.passed("tests/test_a.py::test_p")
    assert run.passed("tests/test_a.py::test_q") and run.outcome_of("tests/test_a.py::test_r") is None


def test_a_suite_cut_off_mid_test_keeps_the_complete_tests(project):
    generated = (
        "from calc import add\n\n\n"
        "def test_add_small():\n    assert add(1, 2) == 3\n\n\n"
        "def test_add_negative():\n    assert add(-1, -2) == -3\n\n\n"
        "def test_add_cut():\n    assert add(1, [2,\n"  # the answer hit its token limit here
    )
    triaged = triage_generated_tests(project, project / "test_generated.py", generated, FAST)
    assert triaged.verification.ok
    assert triaged.kept == ["test_add_small", "test_add_negative"]
    assert "test_add_cut" not in triaged.text
    compile(triaged.text, "t.py", "exec")


def test_a_test_using_an_undefined_name_is_dropped_alone(project):
    generated = (
        "from calc import add\n\n\n"
        "def test_add():\n    assert add(2, 2) == 4\n\n\n"
        "def test_uses_a_name_never_defined():\n    assert cart.total() == 0\n"
    )
    triaged = triage_generated_tests(project, project / "test_generated.py", generated, FAST)
    assert triaged.verification.ok
    assert triaged.kept == ["test_add"]
    assert triaged.dropped == ["test_uses_a_name_never_defined"]
    assert "cart" not in triaged.text
    assert "lint found broken: test_uses_a_name_never_defined" in triaged.verification.summary()


def test_an_undefined_name_outside_the_tests_still_refuses_the_suite(project):
    generated = "from calc import add\n\nVALUE = missing_helper()\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"
    triaged = triage_generated_tests(project, project / "test_generated.py", generated, FAST)
    assert not triaged.verification.ok
    assert "F821" in triaged.verification.summary()


ADD = Subject("add", frozenset({"add"}), {"Decimal": "from decimal import Decimal", "div": "from calc import div"})


def test_a_copied_example_is_dropped_with_its_reason(project):
    generated = (
        "from calc import add\n\n\n"
        "def test_add():\n    assert add(2, 2) == 4\n\n\n"
        "def test_is_even_with_an_even_number():\n    assert 4 % 2 == 0\n"  # passes, and tests nothing of add
    )
    triaged = triage_generated_tests(project, project / "test_generated.py", generated, FAST, ADD)
    assert triaged.verification.ok
    assert triaged.kept == ["test_add"] and triaged.dropped == ["test_is_even_with_an_even_number"]
    assert "is_even" not in triaged.text and triaged.text.endswith("assert add(2, 2) == 4\n")  # no blank tail left
    assert "dropped test_is_even_with_an_even_number: tests nothing of add (copied example?)" in triaged.verification.summary()


def test_a_name_the_subject_resolves_gets_its_import_instead_of_a_drop(project):
    generated = (
        "from calc import add\n\n\n"
        "def test_add_decimals():\n    assert add(Decimal('0.1'), Decimal('0.2')) == Decimal('0.3')\n\n\n"
        "def test_add_then_div():\n    assert div(add(2, 2), 2) == 2\n\n\n"
        "def test_add_mystery():\n    assert add(mystery, 1)\n"
    )
    triaged = triage_generated_tests(project, project / "test_generated.py", generated, FAST, ADD)
    assert triaged.verification.ok
    assert triaged.kept == ["test_add_decimals", "test_add_then_div"]
    assert triaged.dropped == ["test_add_mystery"]  # nobody offers `mystery`: dropped as before
    assert triaged.text.startswith("from calc import add\nfrom calc import div\nfrom decimal import Decimal\n")
    assert "added from calc import div; from decimal import Decimal" in triaged.verification.summary()


def test_a_suite_of_copies_only_is_not_offered(project):
    generated = "import pytest\n\n\ndef test_is_even():\n    assert 4 % 2 == 0\n"
    triaged = triage_generated_tests(project, project / "test_generated.py", generated, FAST, ADD)
    assert not triaged.verification.ok and triaged.verification.tests is None
    assert "no generated test was left to offer" in triaged.verification.summary()
    assert triaged.dropped == ["test_is_even"]


def test_the_answer_s_copy_of_the_target_is_removed_so_the_real_one_is_tested(project):
    generated = (
        "from calc import add\n\n\n"
        "def add(a, b):\n    return 5\n\n\n"  # echoed, wrongly: the tests would exercise this copy
        "def test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_add_zeros():\n    assert add(0, 0) == 0\n"
    )
    triaged = triage_generated_tests(project, project / "test_generated.py", generated, FAST, ADD)
    assert triaged.kept == ["test_add", "test_add_zeros"] and triaged.xfailed == []
    assert "return 5" not in triaged.text
    assert "removed the answer's own add (a copy hiding the imported code)" in triaged.verification.summary()
