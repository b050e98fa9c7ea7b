"""Retrieval quality: recall of the definitions a function needs, at several token budgets.

Not pass/fail: prints a table. Ground truth comes from jedi's goto (an independent oracle, a
benchmark-only dependency): for each sampled function, every name in its body that jedi resolves
to a function, class, method or module-level name defined elsewhere in the same project.
Recall = share of those definitions whose lines fall inside a packed item (whole text: related
definitions or the current-file window); "+map" also counts signatures in the repository map.

Compared in the same run, on the same files and budgets:
  ours          the workspace index: direct edges + personalized PageRank, repo map
  imports-only  the previous context: definitions named by ``from x import y``, then the file
  file-only     the current file (a window around the target when it does not fit)

Usage: python -m tests.benchmarks.bench_retrieval [PROJECT_DIR ...] [--samples N]
Default projects: packages installed next to this interpreter (httpx, click, git).
"""

from __future__ import annotations

import argparse
import functools
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import jedi

from lsp_server.config import ContextSettings, IndexSettings
from lsp_server.context.build import build_context, read_file
from lsp_server.context.imports import imported_definitions
from lsp_server.context.pack import Related, pack_context
from lsp_server.context.resolve import Resolver
from lsp_server.context.target import find_target
from lsp_server.index.python_symbols import parse_python
from lsp_server.index.workspace import WorkspaceIndex

BUDGETS = (2048, 8192, 32768)
DEFAULT_PROJECTS = ("httpx", "click", "git")


def sample_targets(index: WorkspaceIndex, count: int, seed: int = 7) -> list[tuple[Path, object]]:
    """Functions and methods of 4+ lines outside tests, sampled reproducibly."""
    pool = []
    for path, facts in sorted(index.snapshot().items()):
        if facts.is_test_file:
            continue
        pool += [(Path(path), d) for d in facts.definitions if d.kind in ("function", "method") and d.end_line - d.start_line >= 3]
    random.Random(seed).shuffle(pool)
    return pool[:count]


def truth(project: jedi.Project, root: Path, path: Path, definition) -> set[tuple[str, int]]:
    """(file, line) of each project definition the body of ``definition`` refers to, by jedi."""
    script = jedi.Script(path=str(path), project=project)
    found = set()
    for name in script.get_names(all_scopes=True, definitions=False, references=True):
        if not (definition.start_line < name.line <= definition.end_line + 1):
            continue
        try:
            targets = name.goto(follow_imports=True, follow_builtin_imports=False)
        except Exception:  # jedi gives up on some dynamic code; the oracle just has no answer
            continue
        for target in targets:
            if _is_project_definition(target, root) and not _inside(target, path, definition):
                found.add((str(target.module_path), target.line))
    return found


def _is_project_definition(name, root: Path) -> bool:
    if name.module_path is None or root not in Path(name.module_path).parents or name.line is None:
        return False
    if name.type in ("function", "class"):
        return True
    parent = name.parent()
    return name.type == "statement" and parent is not None and parent.type in ("module", "class")


def _inside(name, path: Path, definition) -> bool:
    return Path(name.module_path) == path and definition.start_line < name.line <= definition.end_line + 1


def recalled(needed: set[tuple[str, int]], manifest: list[dict], root: Path, with_map: bool) -> int:
    sections = {"related", "current file"} | ({"repo map"} if with_map else set())
    spans = [(str(root / e["path"]), e["start_line"], e["end_line"]) for e in manifest if e["included"] and e["section"] in sections]
    return sum(any(p == path and s <= line <= e for p, s, e in spans) for path, line in needed)


def pack_ours(index, path, text, definition, budget, resolver=None):
    line = definition.start_line
    return build_context(path, text, (line, 0), (line, 0), index, budget, settings=ContextSettings(), resolver=resolver).manifest


def pack_imports_only(index, path, text, definition, budget):
    parsed = parse_python(text)
    target = find_target(path, text, parsed, (definition.start_line, 0), (definition.start_line, 0))
    related = []
    for found in imported_definitions(parsed.imports, path, index.roots, read_file):
        hit = parse_python(read_file(found.path) or "").find(found.qualname)
        related.append(Related(found.path, found.qualname, found.kind, hit.start_line, hit.end_line, found.text, hit.signature, None, "imported"))
    return pack_context(target, text, related, budget, relative_to=index.roots[0]).manifest


def pack_file_only(index, path, text, definition, budget):
    target = find_target(path, text, parse_python(text), (definition.start_line, 0), (definition.start_line, 0))
    return pack_context(target, text, [], budget, relative_to=index.roots[0]).manifest


METHODS = {"ours": pack_ours, "imports-only": pack_imports_only, "file-only": pack_file_only}


def run_project(source: Path, samples: int, scratch: Path) -> dict:
    root = scratch / source.name
    shutil.copytree(source, root / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    index = WorkspaceIndex([root], IndexSettings(cache=False))
    index.build()
    project = jedi.Project(str(root), added_sys_path=[str(root)], smart_sys_path=False)
    methods = dict(METHODS, ours=functools.partial(pack_ours, resolver=Resolver(index)))  # long-lived, as in the server
    totals = {(m, b, w): 0 for m in METHODS for b in BUDGETS for w in (False, True)}
    needed_total, seconds = 0, {m: 0.0 for m in METHODS}
    for path, definition in sample_targets(index, samples):
        needed = truth(project, root, path, definition)
        if not needed:
            continue
        needed_total += len(needed)
        text = read_file(path) or ""
        for method, pack in methods.items():
            for budget in BUDGETS:
                started = time.perf_counter()
                manifest = pack(index, path, text, definition, budget)
                seconds[method] += time.perf_counter() - started
                for with_map in (False, True):
                    totals[(method, budget, with_map)] += recalled(needed, manifest, root, with_map)
    return {"project": source.name, "needed": needed_total, "totals": totals, "seconds": seconds}


def report(result: dict, samples: int) -> None:
    needed = result["needed"] or 1
    print(f"\n{result['project']}: {samples} sampled functions, {result['needed']} needed definitions (jedi goto)")
    print(f"{'method':<14}" + "".join(f"{f'{b // 1024}K':>8}{f'{b // 1024}K+map':>10}" for b in BUDGETS) + f"{'ms/pack':>10}")
    for method in METHODS:
        cells = "".join(f"{result['totals'][(method, b, False)] / needed:>8.2f}{result['totals'][(method, b, True)] / needed:>10.2f}" for b in BUDGETS)
        print(f"{method:<14}{cells}{1000 * result['seconds'][method] / (samples * len(BUDGETS)):>10.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="*", type=Path)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args(argv)
    site = Path(jedi.__file__).parent.parent
    projects = args.projects or [site / name for name in DEFAULT_PROJECTS]
    with tempfile.TemporaryDirectory() as scratch:
        for source in projects:
            report(run_project(source.resolve(), args.samples, Path(scratch)), args.samples)
    print(f"\npython {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
