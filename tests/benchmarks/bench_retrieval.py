"""Retrieval quality: recall of the definitions a function needs, at several token budgets.

Not pass/fail: prints a table. Ground truth comes from jedi's goto (an independent oracle, a
benchmark-only dependency): for each sampled function, every name in its body that jedi resolves
to a function, class, method or module/class-level name defined elsewhere in the same project.

Two recalls per budget, each the share of needed definitions that the packed prompt shows:
  whole   the definition's line lies inside a whole text that was packed (a related definition
          or the current-file window)
  shown   also counting lines shown as signatures: our repository map (a definition's
          decorators and header) or the lines Aider's repo map renders

Compared in the same run, on the same files and budgets (sizes by the same estimate, about 3
characters a token):
  ours          the workspace index: direct edges + personalized PageRank, whole definitions,
                then members of classes too large to go whole, then the repository map
  imports-only  the previous context: definitions named by ``from x import y``, then the file
  file-only     the current file (a window around the target when it does not fit)
  aider         the current file as file-only packs it, plus Aider's RepoMap (aider-chat) over
                every other file in the rest of the budget, as in an Aider chat with that file
                added; the message mentions the target's name
  aider+idents  the same, the message mentioning every identifier of the target's body (a
                generous hint no user types)

Projects: the sdists of requests and flask, fetched with pip into a temporary directory (or
directories given on the command line). Aider runs in its own venv (it pins many packages):
``python3.11 -m venv /tmp/aider-venv && /tmp/aider-venv/bin/pip install aider-chat==0.86.2``, then
pass ``--aider-python /tmp/aider-venv/bin/python``; without it the Aider rows are skipped.

Usage: python -m tests.benchmarks.bench_retrieval [PROJECT_DIR ...] [--samples N] [--aider-python PATH]
"""

from __future__ import annotations

import argparse
import functools
import json
import keyword
import random
import re
import shutil
import subprocess
import sys
import tarfile
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
SDISTS = ("requests==2.34.2", "flask==3.1.3")
AIDER_SCRIPT = Path(__file__).with_name("aider_repomap.py")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def fetch_sdists(specs: tuple[str, ...], scratch: Path) -> list[Path]:
    """Download and unpack the source distributions; the project directories, in ``specs`` order."""
    downloads = scratch / "sdists"
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "--quiet", "-d", str(downloads), *specs], check=True)
    projects = []
    for spec in specs:
        name = spec.split("==")[0].lower()
        archive = next(p for p in downloads.iterdir() if p.name.lower().startswith(name + "-") and p.name.endswith(".tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(scratch / "projects", filter="data")
        projects.append(scratch / "projects" / archive.name[: -len(".tar.gz")])
    return projects


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
    """(file, 1-based line) of each project definition the body of ``definition`` refers to, by jedi."""
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


# -- what a packed prompt shows ------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _lines_of(path: str) -> tuple[str, ...]:
    return tuple((read_file(Path(path)) or "").splitlines())


def header_lines(path: str, start: int) -> range:
    """1-based lines a repository-map entry starting at ``start`` shows: decorators and the header."""
    lines = _lines_of(path)
    line = start
    while line <= len(lines) and not lines[line - 1].lstrip().startswith(("def ", "async def ", "class ")):
        if not lines[line - 1].lstrip().startswith("@"):
            return range(start, start + 1)  # a constant: its first line
        line += 1
    while line <= len(lines) and not lines[line - 1].rstrip().endswith(":"):
        line += 1
    return range(start, line + 1)


def shown_lines(manifest: list[dict], root: Path) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """(lines inside whole packed texts, lines shown at all) per absolute path, 1-based."""
    whole: dict[str, set[int]] = {}
    shown: dict[str, set[int]] = {}
    for entry in manifest:
        if not entry["included"]:
            continue
        path = str(root / entry["path"])
        if entry["section"] in ("related", "current file"):
            span = range(entry["start_line"], entry["end_line"] + 1)
            whole.setdefault(path, set()).update(span)
            shown.setdefault(path, set()).update(span)
        elif entry["section"] == "repo map":
            shown.setdefault(path, set()).update(header_lines(path, entry["start_line"]))
    return whole, shown


def recalled(needed: set[tuple[str, int]], lines: dict[str, set[int]]) -> int:
    return sum(line in lines.get(path, ()) for path, line in needed)


# -- the methods -----------------------------------------------------------------------------


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
AIDER_METHODS = ("aider", "aider+idents")


def body_identifiers(text: str, definition) -> list[str]:
    body = "\n".join(text.splitlines()[definition.start_line : definition.end_line + 1])
    return sorted({word for word in IDENTIFIER.findall(body) if not keyword.iskeyword(word)})


def run_aider(aider_python: str, root: Path, files: list[str], requests: list[dict], scratch: Path) -> dict:
    job, answer = scratch / "aider-job.json", scratch / "aider-answer.json"
    job.write_text(json.dumps({"root": str(root), "files": files, "requests": requests}))
    subprocess.run([aider_python, str(AIDER_SCRIPT), str(job), str(answer)], check=True, cwd=root)
    return json.loads(answer.read_text())


def run_project(root: Path, samples: int, scratch: Path, aider_python: str | None) -> dict:
    index = WorkspaceIndex([root], IndexSettings(cache=False))
    index.build()
    project = jedi.Project(str(root), added_sys_path=[str(root), str(root / "src")], smart_sys_path=False)
    methods = dict(METHODS, ours=functools.partial(pack_ours, resolver=Resolver(index)))  # long-lived, as in the server
    names = [*METHODS, *(AIDER_METHODS if aider_python else ())]
    totals = {(m, b, kind): 0 for m in names for b in BUDGETS for kind in ("whole", "shown")}
    needed_total, seconds, targets, aider_requests, aider_pending = 0, {m: 0.0 for m in names}, 0, [], []
    for path, definition in sample_targets(index, samples):
        needed = truth(project, root, path, definition)
        if not needed:
            continue
        targets += 1
        needed_total += len(needed)
        text = read_file(path) or ""
        for method, pack in methods.items():
            for budget in BUDGETS:
                started = time.perf_counter()
                manifest = pack(index, path, text, definition, budget)
                seconds[method] += time.perf_counter() - started
                whole, shown = shown_lines(manifest, root)
                totals[(method, budget, "whole")] += recalled(needed, whole)
                totals[(method, budget, "shown")] += recalled(needed, shown)
                if method == "file-only" and aider_python:
                    used = sum(e["tokens"] for e in manifest if e["section"] in ("current file", "target"))
                    for variant in AIDER_METHODS:
                        idents = [definition.name] if variant == "aider" else body_identifiers(text, definition)
                        aider_requests.append({"chat": str(path), "idents": idents, "tokens": max(budget - used, 0)})
                        aider_pending.append((variant, budget, needed, whole))
    if aider_python:
        files = sorted(index.snapshot())
        answer = run_aider(aider_python, root, files, aider_requests, scratch)
        for (variant, budget, needed, whole), shown, spent in zip(aider_pending, answer["shown"], answer["seconds"]):
            lines = {path: set(found) for path, found in whole.items()}
            for relative, rows in shown.items():
                lines.setdefault(str(root / relative), set()).update(row + 1 for row in rows)
            totals[(variant, budget, "whole")] += recalled(needed, whole)
            totals[(variant, budget, "shown")] += recalled(needed, lines)
            seconds[variant] += spent
        print(f"aider-chat {answer['aider']}", file=sys.stderr)
    return {"project": root.name, "targets": targets, "needed": needed_total, "totals": totals, "seconds": seconds, "methods": names,
            "files": len(index.snapshot())}


def report(result: dict) -> None:
    needed, packs = result["needed"] or 1, max(result["targets"], 1) * len(BUDGETS)
    print(f"\n{result['project']} ({result['files']} files): {result['targets']} sampled functions with needs, "
          f"{result['needed']} needed definitions (jedi goto)")
    print(f"{'method':<14}" + "".join(f"{f'{b // 1024}K whole':>10}{f'{b // 1024}K shown':>10}" for b in BUDGETS) + f"{'ms/pack':>10}")
    for method in result["methods"]:
        cells = "".join(f"{result['totals'][(method, b, 'whole')] / needed:>10.2f}{result['totals'][(method, b, 'shown')] / needed:>10.2f}" for b in BUDGETS)
        print(f"{method:<14}{cells}{1000 * result['seconds'][method] / packs:>10.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="*", type=Path, help="project directories (default: the sdists of requests and flask)")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--aider-python", help="the python of a venv with aider-chat installed; without it Aider is skipped")
    args = parser.parse_args(argv)
    if args.aider_python is None:
        print("Aider's repo map: skipped (no --aider-python; see this module's docstring to set up its venv)")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        if args.projects:
            roots = []
            for source in map(Path.resolve, args.projects):
                # A package directory goes one level down, so its modules keep their dotted names.
                roots.append(scratch / "projects" / source.name)
                inside = roots[-1] / source.name if (source / "__init__.py").exists() else roots[-1]
                shutil.copytree(source, inside, ignore=shutil.ignore_patterns("__pycache__", ".git"))
        else:
            roots = fetch_sdists(SDISTS, scratch)
        for root in roots:
            report(run_project(root.resolve(), args.samples, scratch, args.aider_python))
    print(f"\npython {sys.version.split()[0]}, jedi {jedi.__version__}, budgets estimated at ~3 characters a token")


if __name__ == "__main__":
    main()
