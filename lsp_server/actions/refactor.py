"""Refactor: rewrite a function or selection following an instruction (default: split it into
focused functions). The edit replaces only the target's lines (helpers go next to it) and is
offered only when the tests that passed before still pass."""

from __future__ import annotations

from pathlib import Path

from lsp_server.actions import prompts, rewrite
from lsp_server.actions.known_names import known_imports
from lsp_server.actions.proposal import Proposal, propose_rewrite
from lsp_server.config import VerifySettings
from lsp_server.context.pack import PackedContext
from lsp_server.model.backend import GenerationRequest, Message
from lsp_server.verify.checks import CheckResult
from lsp_server.verify.verifier import OnStage, Verification

DEFAULT_INSTRUCTION = "split it into focused functions with clear names; keep its behaviour and signature"
SYSTEM = (
    "You refactor Python code. Keep the behaviour and the public signature exactly; keep the "
    "project's style. Answer with one ```python block holding the complete replacement code "
    "(the target and any new helper functions), nothing else."
)
FEW_SHOT = '''### Code
def report(values):
    total = 0
    for v in values:
        total += v
    print("total:", total)
### Instruction
make it simpler
### Refactored code
def report(values):
    print("total:", sum(values))
###

'''


def answer_tokens(code: str, max_tokens: int) -> int:
    """Room for the whole rewrite: the code's own size (about 3 characters a token) and half
    again for helpers, at least ``max_tokens``. A rewrite cut off at the limit cannot parse, and
    with the 256-token default most functions of 30+ lines were (tests/benchmarks/RESULTS.md)."""
    return max(max_tokens, len(code) * 3 // 2 // 3 + 64)


def build_request(packed: PackedContext, instruction: str | None, style: str, max_tokens: int, temperature: float) -> GenerationRequest:
    instruction = instruction or DEFAULT_INSTRUCTION
    target = packed.target
    max_tokens = answer_tokens(target.text, max_tokens)
    if style == "chat":
        question = (
            prompts.context_markdown(packed)
            + f"Refactor `{target.name}` ({prompts.where(packed)}): {instruction}.\n```python\n{target.text.rstrip()}\n```"
        )
        return GenerationRequest(messages=(Message("system", SYSTEM), Message("user", question)), max_tokens=max_tokens, temperature=temperature,
                                 shared_chars=prompts.shared_in_chat(packed))
    text = f"{FEW_SHOT}{prompts.context_completion(packed)}### Code\n{target.text.rstrip()}\n### Instruction\n{instruction}\n### Refactored code\n"
    head = target.text.lstrip().split("\n", 1)[0] + "\n" if target.kind != "selection" else ""
    return GenerationRequest(text=text, max_tokens=max_tokens, temperature=temperature, stop=("###", "```"), answer_prefix=head,
                             shared_chars=prompts.shared_in_completion(FEW_SHOT, packed))


def propose(packed: PackedContext, file_text: str, answer: str, root: Path, tests: list[str], settings: VerifySettings,
            on_stage: OnStage | None = None) -> Proposal:
    target = packed.target
    code = prompts.extract_code(answer)
    qualname = target.definition.qualname.rsplit(".", 1)[-1] if target.definition and target.kind != "selection" else None
    if qualname and not rewrite.defines(code, qualname):
        failed = Verification(False, [CheckResult("shape", False, f"the answer does not define {qualname} any more")])
        return Proposal(target.path, target.start_line, target.end_line + 1, code, False, failed, answer)
    if rewrite.reindent(code, "").strip() == rewrite.reindent(target.text, "").strip():
        # An edit that changes nothing is no refactor: say so instead of offering it.
        same = Verification(False, [CheckResult("change", False, "the model gave the code back unchanged")])
        return Proposal(target.path, target.start_line, target.end_line + 1, code, False, same, answer)
    return propose_rewrite(file_text, target, code, root, tests, settings, answer, known=known_imports(packed, root, file_text), on_stage=on_stage)
