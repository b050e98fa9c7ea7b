"""Answers of the embedded model with and without a LoRA adapter, on functions of a package the
adapter never saw (issue 18). Not pass/fail: prints a table (and writes JSON with --json).

Each sampled function (top-level, with a docstring and a body) is asked once per setting, without
the adapter and then with it, in the same run and the same temporary copy of the package:

  Explain         the docstring is removed from the file first; word-F1 of the model's text (the
                  facts the product adds beside it are left out) against the removed docstring,
                  lowercased word tokens; how many of the parameters the text names; how many
                  answers mostly repeat the docstring of another definition of the package
                  (checked here; in brackets, those the product itself said so of).
  Generate tests  offered as a verified edit (the pipeline's refused is None), tests kept.
  Refactor        verified rate.
  Implement       the body after the docstring replaced by ``raise NotImplementedError`` first;
                  verified rate.

Every offered edit is re-checked independently (bench_actions.py's rechecks: a fresh pytest run of
the offered test module; the module's tests on a copy with the edit applied); an offered edit that
fails it counts as an unverified edit offered. The file is restored after each action, and no
offered edit is kept, so both settings see the same code.

Usage: python -m tests.benchmarks.bench_answers [PACKAGE_DIR] [--lora ADAPTER.gguf ...] [--functions 6]
Default package: the installed ``click`` (not in the tune manifest,
tests/benchmarks/tune-270m-cpu-2026-12-06.json).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import random
import re
import signal
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from lsp_server.actions import explain as explain_action
from lsp_server.actions import generate_tests
from lsp_server.assistant import Assistant
from lsp_server.config import ModelSettings, Settings, VerifySettings
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.adapters import BUNDLED_ADAPTER
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import explain as explain_pipeline
from lsp_server.pipeline.run import Ask, Watch
from lsp_server.verify.select import tests_importing
from tests.benchmarks.bench_actions import (
    _stop,
    package_dir,
    recheck_refactor,
    recheck_tests,
    run_action,
    workspace_copy,
)

MAX_LINES = 40
"""Longer functions are left out: the prompt must fit a small n_ctx with the answer."""


@dataclasses.dataclass
class Row:
    target: str
    adapter: str
    explain_f1: float = 0.0
    params_named: int = 0
    params: int = 0
    explain_seconds: float = 0.0
    explain_answer: str = ""
    explain_repeats: str = ""
    """The context item whose docstring the product found the final answer repeating (it says so)."""
    explain_copied: bool = False
    """Checked here, apart from the product: the answer mostly repeats a docstring of another definition of the package."""
    tests_offered: bool = False
    tests_kept: int = 0
    """Passing tests in the offered suite."""
    tests_xfail: int = 0
    """Tests of the offered suite that fail on the current code, offered marked xfail."""
    gen_seconds: float = 0.0
    gen_detail: str = ""
    ref_verified: bool = False
    ref_seconds: float = 0.0
    ref_detail: str = ""
    impl_verified: bool = False
    impl_seconds: float = 0.0
    impl_detail: str = ""
    impl_code: str = ""
    """The implementation the model wrote (--json only: what a verified one holds)."""
    unverified_offered: int = 0


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_]+", text.lower())


def word_f1(answer: str, reference: str) -> float:
    got, want = Counter(words(answer)), Counter(words(reference))
    common = sum((got & want).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def copies_another_docstring(answer: str, root: Path, target: str) -> bool:
    """Half or more of the answer's word 4-grams are in one docstring of another definition under
    ``root`` (the product's rule, over the whole package rather than the prompt): word-F1 rewards such an answer (a neighbour's docstring shares the package's words),
    yet it describes other code."""
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            documented = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and f"{path.relative_to(root)}:{node.name}" != target
            if documented and explain_action.mostly_repeats(answer, ast.get_docstring(node) or ""):
                return True
    return False


def function_node(text: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The top-level function ``name``; of several (``@overload`` stubs before it), the one with a docstring."""
    nodes = [n for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name]
    return next((n for n in nodes if ast.get_docstring(n)), nodes[0])


def parameters(node) -> list[str]:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs] + [a.arg for a in (args.vararg, args.kwarg) if a]
    return [n for n in names if n not in ("self", "cls")]


def _docstring_alone(text: str, node) -> bool:
    """The docstring fills its own lines (so dropping those lines leaves valid code)."""
    doc, lines = node.body[0], text.splitlines()
    return not lines[doc.lineno - 1][: doc.col_offset].strip() and not lines[doc.end_lineno - 1][doc.end_col_offset :].strip()


def sample(root: Path, package: str, count: int, seed: int = 7) -> list[tuple[Path, str]]:
    """Top-level functions with a docstring of 5+ words and a body, up to MAX_LINES, seeded order."""
    pool = []
    for path in sorted((root / package).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(node.body) >= 2 and len(words(ast.get_docstring(node) or "")) >= 5
                    and node.end_lineno - node.lineno < MAX_LINES and _docstring_alone(text, node)):
                pool.append((path, node.name))
    random.Random(seed).shuffle(pool)
    return pool[:count]


def without_docstring(text: str, name: str) -> tuple[str, str]:
    """(the text with the function's docstring lines removed, the docstring)."""
    node = function_node(text, name)
    doc, lines = node.body[0], text.splitlines(keepends=True)
    return "".join(lines[: doc.lineno - 1] + lines[doc.end_lineno :]), ast.get_docstring(node)


def stubbed(text: str, name: str) -> str:
    """The text with the function's body after its docstring replaced by ``raise NotImplementedError``."""
    node = function_node(text, name)
    first, last = node.body[1], node.body[-1]
    start = min([first.lineno] + [d.lineno for d in getattr(first, "decorator_list", [])])
    lines = text.splitlines(keepends=True)
    return "".join(lines[: start - 1] + [" " * first.col_offset + "raise NotImplementedError\n"] + lines[last.end_lineno :])


def _point(text: str, name: str) -> tuple[int, int]:
    definition = next(d for d in parse_python(text).definitions if d.qualname == name)
    return definition.start_line, 0


def bench_explain(assistant: Assistant, root: Path, path: Path, name: str, original: str, row: Row) -> None:
    text, docstring = without_docstring(original, name)
    path.write_text(text, encoding="utf-8")
    try:
        started = time.perf_counter()
        point = _point(text, name)
        prepared = explain_pipeline.prepare(assistant, Ask(path, text, point, point, [root]))
        explanation = explain_pipeline.run(assistant, prepared, Watch(), CancelToken())
        row.explain_seconds = time.perf_counter() - started
    finally:
        path.write_text(original, encoding="utf-8")
    answer = explanation.text
    row.explain_answer, row.explain_repeats = answer[:300], explanation.repeats
    row.explain_f1 = word_f1(answer, docstring)
    row.explain_copied = copies_another_docstring(answer, root, f"{path.relative_to(root)}:{name}")
    names = parameters(function_node(original, name))
    row.params, row.params_named = len(names), sum(1 for n in names if n in set(words(answer)))


def bench_generate(assistant: Assistant, root: Path, path: Path, name: str, verify: VerifySettings, row: Row) -> None:
    started = time.perf_counter()
    definition = next(d for d in parse_python(path.read_text(encoding="utf-8")).definitions if d.qualname == name)
    prepared, result = run_action(assistant, root, path, definition, "generate_tests")
    row.gen_seconds = time.perf_counter() - started
    row.gen_detail = result.summary[:160]
    row.tests_offered = result.refused is None
    if not row.tests_offered:
        return
    run = result.proposal.verification.tests
    # The offered suite: the passing tests and the failing ones marked xfail (verifier.triage_generated_tests).
    row.tests_kept, row.tests_xfail = (run.count("passed"), run.count("failed")) if run else (0, 0)
    test_file = prepared.test_plan.test_file
    existing = test_file.read_text(encoding="utf-8") if test_file.exists() else ""
    if not recheck_tests(root, test_file, existing + result.proposal.new_text, verify):
        row.unverified_offered += 1


def bench_rewrite(assistant: Assistant, root: Path, path: Path, name: str, action: str, verify: VerifySettings) -> tuple[bool, float, str, int, str]:
    """Refactor or Implement on the file as it is now: (offered, seconds, detail, unverified offered, new code)."""
    started = time.perf_counter()
    definition = next(d for d in parse_python(path.read_text(encoding="utf-8")).definitions if d.qualname == name)
    prepared, result = run_action(assistant, root, path, definition, action)
    seconds = time.perf_counter() - started
    offered = result.refused is None
    unverified = 0
    if offered:
        tests = tests_importing(root, generate_tests.module_name(path, root))
        unverified = int(not recheck_refactor(root, path, prepared.text, prepared.packed.target, result.proposal.new_text, tests, verify))
    return offered, seconds, result.summary[:160], unverified, result.proposal.new_text


ACTIONS = ("explain", "generate_tests", "refactor", "implement")


def bench_function(assistant: Assistant, root: Path, path: Path, name: str, verify: VerifySettings, row: Row,
                   actions: tuple[str, ...] = ACTIONS) -> None:
    original = path.read_text(encoding="utf-8")
    if "explain" in actions:
        bench_explain(assistant, root, path, name, original, row)
    if "generate_tests" in actions:
        bench_generate(assistant, root, path, name, verify, row)
    if "refactor" in actions:
        row.ref_verified, row.ref_seconds, row.ref_detail, unverified, _ = bench_rewrite(assistant, root, path, name, "refactor", verify)
        row.unverified_offered += unverified
    if "implement" not in actions:
        return
    path.write_text(stubbed(original, name), encoding="utf-8")
    try:
        row.impl_verified, row.impl_seconds, row.impl_detail, unverified, row.impl_code = bench_rewrite(assistant, root, path, name, "implement", verify)
    finally:
        path.write_text(original, encoding="utf-8")
    row.unverified_offered += unverified


def report(rows: list[Row], seconds: float) -> str:
    lines = [f"functions: {len({r.target for r in rows})} (wall {seconds / 60:.1f} min)",
             ("| adapter | Explain word-F1 (mean) | parameters named | Explain repeats another docstring (said so) | Generate tests offered | tests kept (+ marked xfail) | Refactor verified | Implement verified "
              "| unverified edits offered | median s: explain / tests / refactor / implement |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    median = lambda xs: f"{statistics.median(xs):.1f}" if xs else "-"
    for adapter in dict.fromkeys(r.adapter for r in rows):
        mine = [r for r in rows if r.adapter == adapter]
        share = lambda k, mine=mine: f"{sum(1 for r in mine if k(r))}/{len(mine)}"
        lines.append(
            f"| {adapter} | {statistics.mean(r.explain_f1 for r in mine):.3f} | {sum(r.params_named for r in mine)}/{sum(r.params for r in mine)} "
            f"| {share(lambda r: r.explain_copied)} ({sum(1 for r in mine if r.explain_repeats)}) "
            f"| {share(lambda r: r.tests_offered)} | {sum(r.tests_kept for r in mine)} (+{sum(r.tests_xfail for r in mine)}) | {share(lambda r: r.ref_verified)} | {share(lambda r: r.impl_verified)} "
            f"| {sum(r.unverified_offered for r in mine)} | {median([r.explain_seconds for r in mine])} / {median([r.gen_seconds for r in mine])} / "
            f"{median([r.ref_seconds for r in mine])} / {median([r.impl_seconds for r in mine])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("project", nargs="?", help="a package directory (default: the installed click)")
    parser.add_argument("--lora", action="append",
                        help="a GGUF LoRA adapter: each function is asked without it and then with it (default: the bundled one); "
                             "give it again to compare several (rows named by file stem)")
    parser.add_argument("--functions", type=int, default=6)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--json", help="write the per-function rows here (after each function)")
    parser.add_argument("--actions", default=",".join(ACTIONS), help=f"which to ask, comma-separated (default: {','.join(ACTIONS)})")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    source = package_dir(args.project)
    verify = VerifySettings(timeout_seconds=60)
    loras = args.lora or ([str(BUNDLED_ADAPTER)] if BUNDLED_ADAPTER.is_file() else [])
    adapters = {"none": "none", **({"lora": loras[0]} if len(loras) == 1 else {Path(lora).stem: lora for lora in loras})}
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-answers-") as tmp:
        root = workspace_copy(source, Path(tmp))
        assistants = {}
        for label, lora in adapters.items():
            model = ModelSettings(n_ctx=args.n_ctx, max_tokens=args.max_tokens, temperature=0.0, lora_path=lora)
            assistants[label] = Assistant(Settings(model=model, verify=verify))
            assistants[label].index_for([root]).build()
            assistants[label].backend.load()
        functions = sample(root, source.name, args.functions)
        try:
            for number, (path, name) in enumerate(functions, 1):
                for label, assistant in assistants.items():
                    row = Row(f"{path.relative_to(root)}:{name}", label)
                    bench_function(assistant, root, path, name, verify, row, tuple(args.actions.split(",")))
                    rows.append(row)
                    print(f"[{number} {label}] {row.target}: explain F1 {row.explain_f1:.3f} params {row.params_named}/{row.params} "
                          f"{row.explain_seconds:.1f}s {row.explain_answer[:120]!r} copied={row.explain_copied} said={row.explain_repeats!r} | tests offered={row.tests_offered} kept={row.tests_kept}+{row.tests_xfail}xfail "
                          f"{row.gen_seconds:.1f}s ({row.gen_detail}) | refactor {row.ref_verified} {row.ref_seconds:.1f}s ({row.ref_detail}) "
                          f"| implement {row.impl_verified} {row.impl_seconds:.1f}s ({row.impl_detail}) | unverified {row.unverified_offered}", flush=True)
                    if args.json:
                        Path(args.json).write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1))
        except KeyboardInterrupt:
            print(f"stopped after {len(rows)} of {len(functions) * len(assistants)} function runs", flush=True)
        for assistant in assistants.values():
            assistant.close()
    print(report(rows, time.perf_counter() - started))


if __name__ == "__main__":
    main()
