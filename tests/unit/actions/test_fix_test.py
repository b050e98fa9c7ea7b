"""Fix failing test, pure parts: pytest's report parsed (real ``--tb=short`` output captured from
pytest 8 in data/), the code under test found, the answer split, the fix verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.actions import fix_test
from lsp_server.config import VerifySettings
from lsp_server.context.build import read_file
from lsp_server.index.python_symbols import parse_python

DATA = Path(__file__).parent / "data"
SHORT = (DATA / "pytest_tb_short.txt").read_text()
STATS = '''def mean(values):
    return sum(values) / len(values) + 0


def ratio(a, b):
    return helper(a) / b


def helper(a):
    return a * 1


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
'''
TESTS = '''from calc_pkg.stats import mean, median


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_median_even():
    assert median([1, 2, 3, 4]) == 2.5


def test_median_odd():
    assert median([3, 1, 2]) == 2
'''
FAST = VerifySettings(timeout_seconds=60)


def test_an_exception_in_the_code_under_test_gives_its_frames():
    failure = fix_test.parse_pytest_output(SHORT, "tests/test_stats.py::test_ratio_by_zero")
    assert failure.outcome == "failed"
    assert (failure.exception, failure.message) == ("ZeroDivisionError", "division by zero")
    assert [(f.path, f.line, f.function) for f in failure.frames] == [("tests/test_stats.py", 14, "test_ratio_by_zero"), ("calc_pkg/stats.py", 6, "ratio")]
    assert failure.frames[1].source == "return helper(a) / b"
    assert failure.text.startswith("tests/test_stats.py:14: in test_ratio_by_zero")


def test_a_failed_assert_is_an_assertion_error_with_pytests_explanation():
    failure = fix_test.parse_pytest_output(SHORT, "tests/test_stats.py::test_median_even")
    assert failure.exception == "AssertionError"
    assert failure.message == "assert 3 == 2.5\n+  where 3 = median([1, 2, 3, 4])"
    assert [f.function for f in failure.frames] == ["test_median_even"]


def test_methods_and_parameters_are_found_by_their_section():
    method = fix_test.parse_pytest_output(SHORT, "tests/test_stats.py::TestGroup::test_empty_mean")
    assert method.exception == "ZeroDivisionError" and method.frames[-1].function == "mean"
    param = fix_test.parse_pytest_output(SHORT, "tests/test_stats.py::TestGroup::test_param")
    assert param.message.startswith("assert 2 == 1")


def test_a_test_absent_from_the_report_passed():
    assert fix_test.parse_pytest_output(SHORT, "tests/test_stats.py::test_mean").outcome == "passed"


def test_captured_output_and_setup_errors():
    text = (DATA / "pytest_output_and_setup_error.txt").read_text()
    failure = fix_test.parse_pytest_output(text, "tests/test_out.py::test_with_output")
    assert (failure.exception, failure.message) == ("AssertionError", "arithmetic is off\nassert (1 + 1) == 3")
    assert "hello from the test" not in failure.text
    setup = fix_test.parse_pytest_output(text, "tests/test_out.py::test_setup_error")
    assert (setup.outcome, setup.exception, setup.message) == ("error", "RuntimeError", "fixture exploded")
    assert setup.frames[0].function == "broken"


def test_a_collection_error_keeps_only_workspace_frames_as_workspace_frames():
    failure = fix_test.parse_pytest_output((DATA / "pytest_collection_error.txt").read_text(), "tests/test_broken.py::test_x")
    assert failure.outcome == "error" and failure.exception == "ModuleNotFoundError"
    assert [f.path for f in failure.workspace_frames] == ["tests/test_broken.py"]
    assert not failure.frames[0].in_workspace  # the importlib frame is outside the project


def test_it_is_offered_on_test_functions_of_test_files_only(tmp_path):
    test_file, code_file = tmp_path / "tests" / "test_stats.py", tmp_path / "stats.py"
    parsed = parse_python(TESTS)
    assert fix_test.is_test_function(test_file, parsed.find("test_mean"))
    assert not fix_test.is_test_function(code_file, parsed.find("test_mean"))
    assert not fix_test.is_test_function(test_file, None)
    assert fix_test.test_at(test_file, TESTS, 4).name == "test_mean"  # the assert line inside it
    assert fix_test.test_at(test_file, TESTS, 0) is None
    assert fix_test.node_id(test_file, tmp_path, "TestX.test_y") == "tests/test_stats.py::TestX::test_y"


def test_the_answer_splits_into_root_cause_and_code():
    cause, code = fix_test.parse_answer("`median` picks the upper middle.\n### Fix\ndef median(v):\n    return 1\n### End")
    assert cause == "`median` picks the upper middle." and code == "def median(v):\n    return 1"
    cause, code = fix_test.parse_answer("Because.\n```python\ndef f():\n    pass\n```\nmore")
    assert (cause, code) == ("Because.", "def f():\n    pass")
    assert fix_test.parse_answer("no idea") == ("no idea", "")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "calc_pkg").mkdir(parents=True)
    (root / "calc_pkg" / "__init__.py").write_text("")
    (root / "calc_pkg" / "stats.py").write_text(STATS)
    (root / "tests").mkdir()
    (root / "tests" / "test_stats.py").write_text(TESTS)
    return root


def failing(project: Path):
    test_path = project / "tests" / "test_stats.py"
    node = "tests/test_stats.py::test_median_even"
    failure = fix_test.run_test(project, [], node, FAST)
    found = fix_test.candidates(failure, project, test_path, TESTS, parse_python(TESTS).find("test_median_even"), read_file)
    return failure, found


def test_the_sandboxed_run_finds_the_failure_and_the_code_under_test(project):
    failure, found = failing(project)
    assert failure.outcome == "failed" and failure.exception == "AssertionError"
    assert [(c.path.name, c.definition.name) for c in found] == [("stats.py", "median"), ("test_stats.py", "test_median_even")]
    assert found[0].reason == "called by the test (stats.py)"
    assert fix_test.run_test(project, [], "tests/test_stats.py::test_mean", FAST).outcome == "passed"


def test_frames_in_the_code_under_test_come_first(project):
    (project / "tests" / "test_stats.py").write_text(TESTS + "\n\ndef test_mean_of_nothing():\n    assert mean([]) == 0\n")
    text = (project / "tests" / "test_stats.py").read_text()
    failure = fix_test.run_test(project, [], "tests/test_stats.py::test_mean_of_nothing", FAST)
    found = fix_test.candidates(failure, project, project / "tests" / "test_stats.py", text, parse_python(text).find("test_mean_of_nothing"), read_file)
    assert failure.exception == "ZeroDivisionError"
    assert found[0].definition.name == "mean" and found[0].reason == "in the traceback (calc_pkg/stats.py:2)"


GOOD_FIX = "It picks the upper middle.\n### Fix\ndef median(values):\n    ordered = sorted(values)\n    middle = len(ordered) // 2\n    if len(ordered) % 2:\n        return ordered[middle]\n    return (ordered[middle - 1] + ordered[middle]) / 2\n"


def test_a_real_fix_is_verified_by_the_failing_test_and_the_passing_ones(project):
    failure, found = failing(project)
    fix = fix_test.propose(found, failure, GOOD_FIX, project, FAST)
    assert fix.proposal.verification.ok, fix.proposal.verification.summary()
    assert fix.candidate.definition.name == "median" and fix.proposal.path == project / "calc_pkg" / "stats.py"
    assert "tests/test_stats.py::test_median_even now passes, 2 tests passed before and after" in fix.proposal.verification.summary()
    assert (project / "calc_pkg" / "stats.py").read_text() == STATS


def test_a_fix_that_breaks_a_passing_test_or_does_not_fix_is_refused(project):
    failure, found = failing(project)
    breaks = fix_test.propose(found, failure, "x\n### Fix\ndef median(values):\n    return 2.5\n", project, FAST)
    assert not breaks.proposal.verification.ok and "passed before now fail" in breaks.proposal.verification.summary()
    useless = fix_test.propose(found, failure, "x\n### Fix\ndef median(values):\n    return sorted(values)[0]\n", project, FAST)
    assert "test_median_even still does not pass (failed)" in useless.proposal.verification.summary()


def test_an_answer_without_a_replacement_is_refused(project):
    failure, found = failing(project)
    fix = fix_test.propose(found, failure, "The median is wrong.", project, FAST)
    assert not fix.proposal.verification.ok and fix.candidate is None
    assert "no replacement for median, test_median_even" in fix.proposal.verification.summary()
    shown = fix_test.markdown(fix, fix.proposal.verification.summary(), offered=False, root=project)
    assert "failed verification and was not offered" in shown and "The median is wrong." in shown
    assert "no function" not in shown and "the model's answer did not contain a new version of `median` or `test_median_even`" in shown
    assert "`tests/test_stats.py` failed verification" in shown and "## The proposed code" not in shown  # nothing to copy
