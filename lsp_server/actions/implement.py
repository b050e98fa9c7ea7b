"""Implement: write the body of a stub function (``pass``, ``...``, ``raise NotImplementedError``)
or of a function holding a ``# TODO:`` comment, following the project's own conventions."""

from __future__ import annotations

import ast
import textwrap

from pathlib import Path

from lsp_server.actions import prompts, rewrite
from lsp_server.actions.known_names import known_imports
from lsp_server.actions.proposal import Proposal, propose_rewrite
from lsp_server.config import VerifySettings
from lsp_server.context.pack import PackedContext
from lsp_server.model.backend import GenerationRequest, Message
from lsp_server.verify.checks import CheckResult
from lsp_server.verify.verifier import OnStage, Verification

SYSTEM = (
    "You implement Python functions. Follow the docstring, the TODO comments and the conventions "
    "of the related code. Answer with one ```python block holding the complete function."
)
FEW_SHOT = '''### Stub
def mean(values):
    """The arithmetic mean of values; 0.0 for an empty list."""
    raise NotImplementedError
### Implementation
def mean(values):
    """The arithmetic mean of values; 0.0 for an empty list."""
    if not values:
        return 0.0
    return sum(values) / len(values)
###

'''


def needs_implementation(code: str) -> bool:
    """A stub body (after the docstring) or a TODO comment inside."""
    if "TODO" in code:
        return True
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return False
    function = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if function is None:
        return False
    body = function.body[1:] if _is_docstring(function.body[0]) else function.body
    return all(_is_placeholder(statement) for statement in body)


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and isinstance(statement.value.value, str)


def _is_placeholder(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Pass):
        return True
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and statement.value.value is Ellipsis:
        return True
    if isinstance(statement, ast.Raise) and statement.exc is not None:
        raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
        return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"
    return False


def build_request(packed: PackedContext, style: str, max_tokens: int, temperature: float) -> GenerationRequest:
    target = packed.target
    if style == "chat":
        question = prompts.context_markdown(packed) + f"Implement `{target.name}` ({prompts.where(packed)}):\n```python\n{target.text.rstrip()}\n```"
        return GenerationRequest(messages=(Message("system", SYSTEM), Message("user", question)), max_tokens=max_tokens, temperature=temperature,
                                 shared_chars=prompts.shared_in_chat(packed))
    text = f"{FEW_SHOT}{prompts.context_completion(packed)}### Stub\n{target.text.rstrip()}\n### Implementation\n"
    head = _signature_and_docstring(target.text)
    return GenerationRequest(text=text, max_tokens=max_tokens, temperature=temperature, stop=("###", "```"), answer_prefix=head,
                             shared_chars=prompts.shared_in_completion(FEW_SHOT, packed))


def _signature_and_docstring(code: str) -> str:
    """The stub's lines up to its body, so a base model continues with the body."""
    dedented = textwrap.dedent(code)
    try:
        function = ast.parse(dedented).body[0]
    except (SyntaxError, IndexError):
        return ""
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ""
    keep = function.body[0].end_lineno if _is_docstring(function.body[0]) else function.body[0].lineno - 1
    return "".join(dedented.splitlines(keepends=True)[:keep])


def propose(packed: PackedContext, file_text: str, answer: str, root: Path, tests: list[str], settings: VerifySettings,
            on_stage: OnStage | None = None) -> Proposal:
    target = packed.target
    code = prompts.extract_code(answer)
    name = target.definition.name if target.definition else ""
    if not name or not rewrite.defines(code, name) or needs_implementation(code):
        failed = Verification(False, [CheckResult("shape", False, f"the answer is not an implementation of {name or 'the target'}")])
        return Proposal(target.path, target.start_line, target.end_line + 1, code, False, failed, answer)
    return propose_rewrite(file_text, target, code, root, tests, settings, answer, known=known_imports(packed, root, file_text), on_stage=on_stage)
