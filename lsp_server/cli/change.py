"""``gemma-lsp change FILE[:LINE] "INSTRUCTION"``: the Change... pipeline on the command line.

Prints the proposal (each file's unified diff) and its verification; writes nothing: the edits
are applied only in the verifier's shadow copy. Without a line the whole file is the target.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lsp_server.actions import change
from lsp_server.actions.change_prompt import DEFAULT_FORMAT
from lsp_server.assistant import Assistant
from lsp_server.cli.explain import parse_location, workspace_root
from lsp_server.config import Settings
from lsp_server.context.build import read_file
from lsp_server.errors import BadInput, DocumentNotFound, PositionOutOfRange
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import change as change_pipeline
from lsp_server.pipeline.run import Ask, Watch


def locate(location: str) -> tuple[Path, int | None, int]:
    """``FILE[:LINE[:COLUMN]]`` -> (path, 0-based line or None for the whole file, column)."""
    if location.rsplit(":", 1)[-1].isdigit():
        return parse_location(location)
    return Path(location), None, 0


def target_range(text: str, line: int | None, column: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The cursor at LINE, or the whole file selected."""
    count = len(text.splitlines())
    if line is None:
        return (0, 0), (count, 0)
    if line >= count:
        raise PositionOutOfRange(f"the file has {count} lines; line {line + 1} is outside it.")
    return (line, column), (line, column)


def change_command(settings: Settings, location: str, instruction: str, as_json: bool, fmt: str = DEFAULT_FORMAT) -> int:
    if not instruction.strip():
        raise BadInput('Say what to change: gemma-lsp change FILE[:LINE] "INSTRUCTION".')
    path, line, column = locate(location)
    path = path.resolve()
    text = read_file(path)
    if text is None:
        raise DocumentNotFound(f"Cannot read {path} as a UTF-8 text file.")
    start, end = target_range(text, line, column)
    assistant = Assistant(settings)
    root = workspace_root(path)
    try:
        assistant.index_for([root]).build()
        assistant.backend.load()  # before packing: exact token counts
        prepared = change_pipeline.prepare(assistant, Ask(path, text, start, end, [root]), instruction, fmt=fmt)
        print(f"Changing {prepared.packed.target.name} in {path.name} ({len(prepared.manifest)} context items) ...", file=sys.stderr)
        stages = Watch(on_stage=lambda stage: print(stage, file=sys.stderr))
        proposal = change_pipeline.run(assistant, prepared, stages, CancelToken()).proposal
    finally:
        assistant.close()
    print(json.dumps(as_dict(proposal, root), indent=2) if as_json else human(proposal, root))
    return 0 if proposal.ok else 1


def as_dict(proposal: change.ChangeProposal, root: Path) -> dict:
    refused = None if proposal.ok else change.refusal(proposal, root)
    return {
        "instruction": proposal.instruction,
        "target": proposal.packed.target.name if proposal.packed else None,
        "format": proposal.format,
        "offered": proposal.ok,
        "files": [{"path": _relative(f.path, root), "create": f.create, "diff": change.file_diff(f, root), "new_text": f.new_text}
                  for f in proposal.files],
        "verification": {"ok": proposal.ok, "summary": proposal.verification.summary(),
                         "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in proposal.verification.checks]},
        "refused": None if refused is None else {"reason": refused.reason, "remedies": list(refused.remedies), "details": list(refused.details)},
        "repairs": proposal.repairs,
        "manifest": proposal.packed.manifest if proposal.packed else [],
        "answer": proposal.answer,
    }


def human(proposal: change.ChangeProposal, root: Path) -> str:
    manifest = proposal.packed.manifest if proposal.packed else []
    context = "".join(f"  {row['title']} ({row['section']}, {row['tokens']} tokens est.): {row['reason']}\n" for row in manifest if row["included"])
    head = f"Context sent:\n{context}\n"
    if proposal.ok:
        return head + proposal.diff(root) + f"\nVerified: {proposal.verification.summary()}\n(nothing was written)"
    refused = change.refusal(proposal, root)
    checks = "".join(f"  {d}\n" for d in refused.details)
    diff = proposal.diff(root)
    return (head + f"Not offered: {refused.reason}.\n\nChecks:\n{checks}" + (f"\nThe proposed change:\n{diff}" if diff else "")
            + f"\nThe model's answer:\n{proposal.answer.rstrip()}\n")


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root.resolve()).as_posix() if path.is_relative_to(root.resolve()) else str(path)
