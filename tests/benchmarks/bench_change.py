"""Change... on the bundled model (or --model): feature tasks on a fixture application, each
with hidden acceptance tests.

Not pass/fail: prints a table (and writes JSON with --json). For every task and answer format:

  parsed    the answer holds edits in the format (after the deterministic repairs)
  applied   they apply to the files (every SEARCH found, every path in the workspace)
  verified  the proposal passed verification: parse, ruff, the tests of the modules it touches
            (passing before and after), the tests it brings
  solved    verified, and the task's hidden tests (never shown to the model) pass with it

Each task runs on a fresh copy of tests/benchmarks/change_app (the ``desk`` help desk), through
the product's pipeline (actions/change.py: context with what the instruction names, request,
model, parse, apply, verify). The hidden tests must fail on the unchanged application: a task
whose hidden tests pass already is reported and not counted.

Usage: python -m tests.benchmarks.bench_change [--formats symbols,search_replace,diff] [--tasks a,b] [--json out.json]
       python -m tests.benchmarks.bench_change --report out.json   (the table of a run, finished or not)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsp_server.actions import change
from lsp_server.actions.change_format import FORMATS, parse_answer
from lsp_server.assistant import Assistant
from lsp_server.config import ModelSettings, Settings, VerifySettings
from lsp_server.context.build import read_file
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import change as change_pipeline
from lsp_server.pipeline.run import Ask, Watch
from lsp_server.verify.checks import run_tests
from lsp_server.verify.shadow import FileChange, ShadowWorkspace
from tests.benchmarks.change_tasks import TASKS, Task

APP = Path(__file__).parent / "change_app"


@dataclasses.dataclass
class Row:
    task: str
    format: str
    parsed: bool = False
    applied: bool = False
    verified: bool = False
    solved: bool = False
    files: int = 0
    seconds: float = 0.0
    detail: str = ""
    repairs: list[str] = dataclasses.field(default_factory=list)
    answer: str = ""


def hidden_tests_pass(root: Path, task: Task, changes: list[FileChange], verify: VerifySettings) -> bool:
    hidden = root / "tests" / f"test_hidden_{task.name}.py"
    with ShadowWorkspace(root, [*changes, FileChange(hidden, task.hidden.lstrip())]) as shadow:
        run = run_tests(shadow.path, [str(hidden.relative_to(root))], verify)
    return bool(run.outcomes) and all(o == "passed" for o in run.outcomes.values())


def run_task(assistant: Assistant, task: Task, fmt: str, workdir: Path) -> Row:
    root = workdir / f"{task.name}-{fmt}"
    shutil.copytree(APP, root)
    root = root.resolve()
    path = root / task.file
    text = read_file(path)
    assistant.index_for([root]).build()
    started = time.perf_counter()
    point = (task.line - 1, 0)
    prepared = change_pipeline.prepare(assistant, Ask(path, text, point, point, [root]), task.instruction, fmt=fmt)
    proposal = change_pipeline.run(assistant, prepared, Watch(), CancelToken()).proposal  # the product's own pipeline
    row = Row(task.name, fmt, seconds=time.perf_counter() - started, answer=proposal.answer, repairs=proposal.repairs)
    row.parsed = parse_answer(proposal.answer, fmt).parsed
    shape = next((c for c in proposal.verification.checks if c.name == "shape"), None)
    row.applied = row.parsed and shape is None
    row.verified = proposal.ok
    row.files = len(proposal.files)
    row.detail = proposal.verification.summary()[:200] if proposal.ok else change.refusal(proposal, root).reason[:200]
    if proposal.ok:
        row.solved = hidden_tests_pass(root, task, [FileChange(f.path, f.new_text) for f in proposal.files], assistant.settings.verify)
    return row


def unsolved_at_start(tasks: list[Task], verify: VerifySettings, workdir: Path) -> list[str]:
    """Tasks whose hidden tests already pass on the unchanged application (they measure nothing)."""
    root = workdir / "unchanged"
    shutil.copytree(APP, root)
    return [t.name for t in tasks if hidden_tests_pass(root.resolve(), t, [], verify)]


def report(rows: list[Row], formats: list[str]) -> str:
    lines = [f"{'task':<16} {'format':<15} parsed applied verified solved files  secs  detail"]
    for r in rows:
        flags = "  ".join("yes" if v else " no" for v in (r.parsed, r.applied, r.verified, r.solved))
        lines.append(f"{r.task:<16} {r.format:<15} {flags}  {r.files:>5} {r.seconds:5.1f}  {r.detail[:90]}")
    lines.append("")
    for fmt in formats:
        mine = [r for r in rows if r.format == fmt]
        n = len(mine)
        count = lambda key: sum(1 for r in mine if key(r))
        lines.append(f"{fmt}: parsed {count(lambda r: r.parsed)}/{n}, applied {count(lambda r: r.applied)}/{n}, "
                     f"verified {count(lambda r: r.verified)}/{n}, solved {count(lambda r: r.solved)}/{n}, "
                     f"median {statistics.median([r.seconds for r in mine]) if mine else 0:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--tasks", default="")
    parser.add_argument("--model", default=None, help="GGUF file (default: the bundled model)")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--report", type=Path, help="print the table of a JSON written by an earlier run, and stop")
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    if args.report:
        print(report([Row(**r) for r in json.loads(args.report.read_text())], formats))
        return 0
    tasks = [t for t in TASKS if not args.tasks or t.name in args.tasks.split(",")]
    model = ModelSettings(path=args.model, n_ctx=args.n_ctx, max_tokens=args.max_tokens, temperature=0.0)
    assistant = Assistant(Settings(model=model, verify=VerifySettings(timeout_seconds=60)))
    info = assistant.backend.load()
    print(f"model: {info.name} ({info.source}, prompt style {info.prompt_style}); {len(tasks)} tasks x {len(formats)} formats", file=sys.stderr)
    started = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-change-") as scratch:
        trivial = unsolved_at_start(tasks, assistant.settings.verify, Path(scratch))
        if trivial:
            print(f"hidden tests pass before any change (not counted): {', '.join(trivial)}", file=sys.stderr)
        # Task by task, every format in turn: a run cut short still compares the formats on the same tasks.
        for task in (t for t in tasks if t.name not in trivial):
            for fmt in formats:
                rows.append(run_task(assistant, task, fmt, Path(scratch)))
                print(f"  {task.name} / {fmt}: {'solved' if rows[-1].solved else rows[-1].detail[:100]}", file=sys.stderr)
                if args.json:  # written as it goes: --report reads a partial run
                    args.json.write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
    assistant.close()
    print(report(rows, formats))
    print(f"wall {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
