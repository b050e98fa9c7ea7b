"""Generate tests: a pytest module (or tests appended to the existing one) for the target.

The prompt lists the edge cases read off the code. What the model writes is then triaged by the
verifier: tests that exercise nothing of the target (copied examples) are dropped, names the
target's module or the workspace resolve get their import, then passing tests are kept, failing
ones marked xfail as possible bugs, broken ones dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lsp_server.actions import outcome, prompts
from lsp_server.actions.edge_cases import edge_cases
from lsp_server.actions.known_names import known_imports, module_name
from lsp_server.actions.proposal import Proposal
from lsp_server.config import VerifySettings
from lsp_server.context.pack import PackedContext
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.backend import GenerationRequest, Message
from lsp_server.verify.exercise import subject_names
from lsp_server.verify.salvage import Subject
from lsp_server.verify.verifier import OnStage, triage_generated_tests

SYSTEM = (
    "You write pytest tests for Python code. Test behaviour through the public interface, one "
    "behaviour per test function, with clear names. Cover every listed edge case. Answer with one "
    "```python block holding a complete test module."
)
FEW_SHOT = '''### Code
def is_even(n):
    return n % 2 == 0
### Tests
import pytest
from numbers_util import is_even


def test_is_even_with_an_even_number():
    assert is_even(4) is True


def test_is_even_with_an_odd_number():
    assert is_even(3) is False


def test_is_even_with_zero():
    assert is_even(0) is True
###

### Code
class Counter:
    def __init__(self, start=0):
        self.value = start

    def add(self, n):
        if n < 0:
            raise ValueError("n must not be negative")
        self.value += n
        return self.value
### Tests
import pytest
from counter_util import Counter


def test_add_to_a_new_counter():
    counter = Counter()
    assert counter.add(2) == 2


def test_add_a_negative_number_raises():
    counter = Counter(5)
    with pytest.raises(ValueError):
        counter.add(-1)
###

'''


@dataclass(frozen=True)
class TestPlan:
    module: str
    """The dotted module the target lives in, as tests import it."""
    name: str
    """The top-level name the tests import."""
    test_file: Path
    edge_cases: list[str]
    subject: Subject | None = None
    """What the tests must exercise, and the imports their undefined names may get; None for
    code outside any definition."""


def test_file_for(path: Path, root: Path) -> Path:
    """tests/test_<module>.py when the project has a tests folder, else test_<module>.py beside it."""
    tests = root / "tests"
    return tests / f"test_{path.stem}.py" if tests.is_dir() else path.parent / f"test_{path.stem}.py"


def plan(packed: PackedContext, root: Path, module_source: str = "") -> TestPlan:
    """``module_source``: the text of the target's module (the editor's), whose imports and
    definitions the generated tests may borrow."""
    target = packed.target
    top_name = (target.definition.qualname if target.definition else target.name).split(".")[0]
    subject = None
    if target.definition is not None:
        names = subject_names(target.definition.qualname, target.kind, target.text)
        subject = Subject(target.definition.qualname, names, known_imports(packed, root, module_source))
    return TestPlan(module_name(target.path, root), top_name, test_file_for(target.path, root), edge_cases(target.text), subject)


def build_request(packed: PackedContext, test_plan: TestPlan, style: str, max_tokens: int, temperature: float) -> GenerationRequest:
    cases = "".join(f"- {case}\n" for case in test_plan.edge_cases) or "- the usual inputs and one unusual input\n"
    header = f"import pytest\nfrom {test_plan.module} import {test_plan.name}\n\n\n"
    if style == "chat":
        question = (
            prompts.context_markdown(packed)
            + f"Write pytest tests for `{packed.target.name}` ({prompts.where(packed)}) in module `{test_plan.module}`:\n"
            + f"```python\n{packed.target.text.rstrip()}\n```\nEdge cases to cover:\n{cases}"
            + f"Start the module with:\n```python\n{header}```"
        )
        return GenerationRequest(messages=(Message("system", SYSTEM), Message("user", question)), max_tokens=max_tokens, temperature=temperature,
                                 shared_chars=prompts.shared_in_chat(packed))
    text = f"{FEW_SHOT}{prompts.context_completion(packed)}### Code\n{packed.target.text.rstrip()}\n### Edge cases\n{cases}### Tests\n"
    return GenerationRequest(text=text, max_tokens=max_tokens, temperature=temperature, stop=("###", "```"), answer_prefix=header + "def test_",
                             shared_chars=prompts.shared_in_completion(FEW_SHOT, packed))


def tests_from_answer(answer: str) -> str:
    return prompts.extract_code(answer)


def merge_into_existing(existing: str | None, generated: str) -> tuple[str, str]:
    """The whole new test module and the text appended to the existing one (never a changed line).

    Generated tests whose names exist already are renamed, so nothing is replaced.
    """
    if existing is None:
        return generated, generated
    taken = {d.name for d in parse_python(existing).definitions}
    addition = generated
    for definition in parse_python(generated).definitions:
        if definition.kind == "function" and definition.name in taken:
            addition = addition.replace(f"def {definition.name}(", f"def {definition.name}_generated(", 1)
    separator = "" if existing.endswith("\n\n\n") else "\n\n" if existing.endswith("\n") else "\n\n\n"
    return existing + separator + addition, separator + addition


def propose(test_plan: TestPlan, answer: str, existing: str | None, root: Path, settings: VerifySettings,
            on_stage: OnStage | None = None) -> Proposal:
    """Triage the generated tests against the current code; the edit appends to or creates the module.

    The generated tests are run on their own (beside an existing module, never in it), so an
    existing test is never touched, and only what survived triage is appended.
    """
    generated = tests_from_answer(answer)
    probe = test_plan.test_file if existing is None else outcome.probe_path(test_plan.test_file)
    triaged = triage_generated_tests(root, probe, generated, settings, test_plan.subject, on_stage)
    _, addition = merge_into_existing(existing, triaged.text)
    line = len(existing.splitlines()) if existing is not None else 0
    return Proposal(test_plan.test_file, line, line, addition, existing is None, triaged.verification, answer)
