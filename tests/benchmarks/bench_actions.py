"""Generate tests and Refactor on N functions of a real project with the embedded model.

Not pass/fail: prints a table (and writes JSON with --json). For each sampled function:

  Generate tests  the suite as the model wrote it: does it collect, do all its tests pass; then
                  the action's triage (passing kept, failing marked xfail, broken dropped); for an
                  offered suite, coverage.py (branch mode) over the target's lines: branches hit.
                  Offered suites are written into the workspace, so the later refactors of the
                  same module are checked against them.
  Refactor        the action's verification (parse, lint, the tests importing the module, which
                  must pass before and after).

Every offered edit is re-checked independently (a fresh pytest run on a copy with the edit
applied); an offered edit that fails it counts as an unverified edit offered (the bar is 0).
Latency is wall time per action: context, model, verification.

Usage: python -m tests.benchmarks.bench_actions [PROJECT_PACKAGE_DIR] [--functions 30]
Default project: the installed ``click`` package, copied into a temporary workspace.
Needs the bench extra (coverage).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsp_server.actions import generate_tests, rewrite
from lsp_server.assistant import Assistant
from lsp_server.config import ModelSettings, Settings, VerifySettings
from lsp_server.context.build import read_file
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import edit as edit_pipeline
from lsp_server.pipeline.edit import EditResult, PreparedEdit
from lsp_server.pipeline.run import Ask, Watch
from lsp_server.verify.checks import run_tests
from lsp_server.verify.select import tests_importing
from lsp_server.verify.shadow import FileChange, ShadowWorkspace


@dataclasses.dataclass
class Row:
    target: str
    gen_seconds: float = 0.0
    collected: bool = False
    all_passed: bool = False
    generated: int = 0
    passed: int = 0
    offered_tests: bool = False
    gen_detail: str = ""
    branches_hit: int = 0
    branches_total: int = 0
    ref_seconds: float = 0.0
    ref_verified: bool = False
    ref_unchanged: bool = False
    ref_tests: int = 0
    ref_detail: str = ""
    unverified_offered: int = 0


def sample(root: Path, package: str, count: int, seed: int = 7) -> list[tuple[Path, object]]:
    """Top-level functions of 4+ lines, outside tests, in a seeded order."""
    pool = []
    for path in sorted((root / package).rglob("*.py")):
        parsed = parse_python(read_file(path) or "")
        pool += [(path, d) for d in parsed.definitions if d.kind == "function" and "." not in d.qualname and d.end_line - d.start_line >= 3]
    random.Random(seed).shuffle(pool)
    return pool[:count]


def run_action(assistant: Assistant, root: Path, path: Path, definition, action: str) -> tuple[PreparedEdit, EditResult]:
    """The product's own pipeline (lsp_server/pipeline/edit.py) on ``definition``."""
    point = (definition.start_line, 0)
    prepared = edit_pipeline.prepare(assistant, action, Ask(path, read_file(path), point, point, [root]))
    return prepared, edit_pipeline.run(assistant, prepared, Watch(), CancelToken())


def bench_generate(assistant: Assistant, root: Path, path: Path, definition, verify: VerifySettings, row: Row) -> None:
    started = time.perf_counter()
    prepared, result = run_action(assistant, root, path, definition, "generate_tests")
    plan, proposal = prepared.test_plan, result.proposal
    existing = read_file(plan.test_file)
    row.gen_seconds = time.perf_counter() - started
    run = proposal.verification.tests
    if run is not None:
        row.generated = len(run.outcomes)
        row.passed = run.count("passed")
        row.collected = bool(run.outcomes) and not run.collection_error
        row.all_passed = row.collected and row.passed == row.generated
    row.offered_tests = proposal.verification.ok
    row.gen_detail = proposal.verification.summary()[:160]
    if not proposal.verification.ok:
        return
    new_text = (existing or "") + proposal.new_text
    if not recheck_tests(root, plan.test_file, new_text, verify):
        row.unverified_offered += 1
        return
    plan.test_file.parent.mkdir(parents=True, exist_ok=True)
    plan.test_file.write_text(new_text)  # later refactors of this module are checked against it
    row.branches_hit, row.branches_total = branch_coverage(root, plan.test_file, path, definition)


def recheck_tests(root: Path, test_file: Path, text: str, verify: VerifySettings) -> bool:
    """An offered test module must run green (xfail allowed) on the current code."""
    with ShadowWorkspace(root, [FileChange(test_file, text)]) as shadow:
        run = run_tests(shadow.path, [str(shadow.mirror(test_file).relative_to(shadow.path))], verify)
    return bool(run.outcomes) and run.count("failed") + run.count("error") == 0 and not run.timed_out


def branch_coverage(root: Path, test_file: Path, path: Path, definition) -> tuple[int, int]:
    """(branches hit, branches) inside the target's lines when its test module runs."""
    with ShadowWorkspace(root) as shadow:
        data = Path(shadow.path) / "coverage.json"
        env = {**os.environ, "PYTHONPATH": str(shadow.path), "COVERAGE_FILE": str(Path(shadow.path) / ".coverage")}
        source = shadow.mirror(path)
        run = [sys.executable, "-m", "coverage", "run", "--branch", f"--include={source}", "-m", "pytest", "-q", "-p", "no:cacheprovider",
               str(shadow.mirror(test_file).relative_to(shadow.path))]
        subprocess.run(run, cwd=shadow.path, env=env, capture_output=True, timeout=300, check=False)
        subprocess.run([sys.executable, "-m", "coverage", "json", "-o", str(data)], cwd=shadow.path, env=env, capture_output=True, timeout=120, check=False)
        if not data.exists():
            return 0, 0
        files = json.loads(data.read_text())["files"]
        report = next((v for k, v in files.items() if Path(shadow.path, k).resolve() == source.resolve()), None)
    if report is None:
        return 0, 0
    lines = range(definition.start_line + 1, definition.end_line + 2)
    hit = sum(1 for a, _ in report.get("executed_branches", []) if a in lines)
    missed = sum(1 for a, _ in report.get("missing_branches", []) if a in lines)
    return hit, hit + missed


def bench_refactor(assistant: Assistant, root: Path, path: Path, definition, verify: VerifySettings, row: Row) -> None:
    started = time.perf_counter()
    prepared, result = run_action(assistant, root, path, definition, "refactor")
    packed, proposal, text = prepared.packed, result.proposal, prepared.text
    tests = tests_importing(root, generate_tests.module_name(path, root))
    row.ref_seconds = time.perf_counter() - started
    row.ref_verified = proposal.verification.ok
    row.ref_detail = proposal.verification.summary()[:160]
    row.ref_tests = proposal.verification.tests.count("passed") if proposal.verification.tests else 0
    row.ref_unchanged = rewrite.reindent(packed.target.text, "") == rewrite.reindent(proposal.new_text, "")
    if proposal.verification.ok and not recheck_refactor(root, path, text, packed.target, proposal.new_text, tests, verify):
        row.unverified_offered += 1


def recheck_refactor(root: Path, path: Path, text: str, target, new_code: str, tests: list[str], verify: VerifySettings) -> bool:
    """Apply the offered replacement and run the module's tests: what passed before still passes."""
    lines = text.splitlines(keepends=True)
    new_text = "".join(lines[: target.start_line]) + new_code + "".join(lines[target.end_line + 1 :])
    try:
        compile(new_text, str(path), "exec")
    except SyntaxError:
        return False
    if not tests:
        return True
    with ShadowWorkspace(root) as before_copy:
        before = run_tests(before_copy.path, tests, verify)
    with ShadowWorkspace(root, [FileChange(path, new_text)]) as after_copy:
        after = run_tests(after_copy.path, tests, verify)
    return all(after.outcomes.get(t) == "passed" for t, o in before.outcomes.items() if o == "passed")


def report(rows: list[Row], seconds: float) -> str:
    n = len(rows)
    share = lambda k: f"{sum(1 for r in rows if k(r))}/{n}"
    with_branches = [r for r in rows if r.branches_total]
    hit, total = sum(r.branches_hit for r in with_branches), sum(r.branches_total for r in with_branches)
    median = lambda xs: f"{statistics.median(xs):.1f}" if xs else "-"
    return "\n".join([
        f"functions: {n} (wall {seconds / 60:.1f} min)",
        f"generate tests: suites that collect {share(lambda r: r.collected)}, whose tests all pass as written {share(lambda r: r.all_passed)}, "
        f"offered after triage {share(lambda r: r.offered_tests)}; tests written {sum(r.generated for r in rows)}, passing {sum(r.passed for r in rows)}",
        f"edge cases: branches hit {hit}/{total} in the {len(with_branches)} offered suites whose target has branches",
        f"refactor: verified {share(lambda r: r.ref_verified)} (of which unchanged code {share(lambda r: r.ref_verified and r.ref_unchanged)}, "
        f"checked by >= 1 passing test {share(lambda r: r.ref_verified and r.ref_tests > 0)})",
        f"latency (s, median / max): generate tests {median([r.gen_seconds for r in rows])} / {max((r.gen_seconds for r in rows), default=0):.1f}, "
        f"refactor {median([r.ref_seconds for r in rows])} / {max((r.ref_seconds for r in rows), default=0):.1f}",
        f"unverified edits offered: {sum(r.unverified_offered for r in rows)}",
    ])


def package_dir(project: str | None) -> Path:
    """The package directory asked for, or the installed click's."""
    if project:
        return Path(project)
    import click

    return Path(click.__file__).parent


def workspace_copy(source: Path, tmp: Path) -> Path:
    """A workspace under ``tmp`` holding a copy of the package and an empty tests/ folder."""
    root = tmp / "workspace"
    shutil.copytree(source, root / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "tests").mkdir()
    return root


def _stop(*_) -> None:
    """SIGTERM (a time limit) ends the run with the table of the functions done so far."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: closing the model must not be cut again
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("project", nargs="?", help="a package directory (default: the installed click)")
    parser.add_argument("--functions", type=int, default=30)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--json", help="write the per-function rows here (after each function)")
    parser.add_argument("--summarize", help="print the table of a --json file written before (a run stopped early)")
    args = parser.parse_args(argv)
    if args.summarize:
        fields = {f.name for f in dataclasses.fields(Row)}
        rows = [Row(**{k: v for k, v in r.items() if k in fields}) for r in json.loads(Path(args.summarize).read_text())]
        print(report(rows, 0.0))
        return
    signal.signal(signal.SIGTERM, _stop)
    source = package_dir(args.project)
    verify = VerifySettings(timeout_seconds=60)
    settings = Settings(model=ModelSettings(n_ctx=args.n_ctx, max_tokens=args.max_tokens, temperature=0.0), verify=verify)
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-actions-") as tmp:
        root = workspace_copy(source, Path(tmp))
        assistant = Assistant(settings)
        assistant.index_for([root]).build()
        assistant.backend.load()
        try:
            for number, (path, definition) in enumerate(sample(root, source.name, args.functions), 1):
                row = Row(f"{path.relative_to(root)}:{definition.qualname}")
                bench_generate(assistant, root, path, definition, verify, row)
                bench_refactor(assistant, root, path, definition, verify, row)
                rows.append(row)
                print(f"[{number}] {row.target}: tests {row.passed}/{row.generated} collected={row.collected} offered={row.offered_tests} "
                      f"branches {row.branches_hit}/{row.branches_total} {row.gen_seconds:.1f}s ({row.gen_detail}) | refactor verified={row.ref_verified} "
                      f"unchanged={row.ref_unchanged} {row.ref_seconds:.1f}s ({row.ref_detail})", flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
        except KeyboardInterrupt:
            print(f"stopped after {len(rows)} of {args.functions} functions", flush=True)
        assistant.close()
    print(report(rows, time.perf_counter() - started))


if __name__ == "__main__":
    main()
