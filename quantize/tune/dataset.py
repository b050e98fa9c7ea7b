"""The training set of ``gemma-quantize tune``: a repository's own code, as the prompts the
actions send and the answers the repository itself gives.

Each example is built by the action's own ``build_request`` on the context the server would pack
(``build_context`` over an index of the repository), so the model is trained on the exact
prompts it is later asked:
- Explain: a function whose docstring is taken out of the file; the answer is the docstring
  (its prose paragraphs, up to ``EXPLAIN_WORDS`` words), in the words the answer prefix starts
  (`` `name` returns ...``); not when the context holds a docstring that says the same
  (``explain.repeated_docstring``: copying a neighbour is what Explain asks again for);
- Generate tests: a function that test functions of the repository call (imported from its
  module); the answer is those tests;
- Implement: a function whose body is replaced by ``raise NotImplementedError``; the answer is
  the body.
Answers end with the stop the action's completion prompt stops at ("###"), so the model learns
to stop. Needs no PyTorch.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from lsp_server.actions import explain, generate_tests, implement
from lsp_server.config import IndexSettings
from lsp_server.context.build import build_context, read_file
from lsp_server.errors import GemmaLspError
from lsp_server.index.python_symbols import parse_python
from lsp_server.index.symbols import Definition
from lsp_server.index.workspace import WorkspaceIndex
from lsp_server.model.backend import GenerationRequest
from lsp_server.verify.select import is_test_file

TASKS = ("explain", "generate_tests", "implement")
STOP = "\n###"
"""What the completion prompts of all three actions stop at (their examples end sections with it)."""
MAX_BODY_LINES = 40
MAX_TESTS = 3
EXPLAIN_WORDS = 90
"""About the 128 tokens an answer gets: a whole docstring, not just its summary line, so the model
learns to say what the parameters do and what is raised (a first-paragraph-only adapter learned
one-sentence answers)."""
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Example:
    task: str
    source: str
    """``path:qualname`` of the function the example is made of (relative to the repository)."""
    request: GenerationRequest
    answer: str
    """What the model should write after the prompt (after ``request.answer_prefix``)."""


def build_examples(root: Path, style: str, budget: int = 768, progress: Progress | None = None) -> list[Example]:
    """Every example the repository under ``root`` gives, in file order. ``style``: "completion"
    (few-shot prompts, base models) or "chat"; ``budget``: the context tokens of each prompt."""
    index = WorkspaceIndex([root], IndexSettings(cache=False, watch=False, git=False, workers=1))
    index.build()
    files = sorted(Path(p) for p in index.snapshot())
    texts = {path: read_file(path) for path in files}
    texts = {path: text for path, text in texts.items() if text}
    tested = tests_by_function(root, index, texts)
    examples: list[Example] = []
    for done, path in enumerate(texts, 1):
        if not is_test_file(path):
            examples.extend(_file_examples(root, path, texts[path], index, style, budget, tested))
        if progress:
            progress(done, len(texts), str(path.relative_to(root)))
    return examples


def _file_examples(root, path, text, index, style, budget, tested) -> Iterator[Example]:
    for definition in parse_python(text).definitions:
        if definition.kind not in ("function", "method") or definition.name.startswith("test"):
            continue
        source = f"{path.relative_to(root)}:{definition.qualname}"
        makers = [(_explain, "explain"), (_implement, "implement")]
        if (path, definition.name) in tested and definition.kind == "function":
            makers.append((lambda *a: _tests(*a, tested[(path, definition.name)]), "generate_tests"))
        for maker, task in makers:
            try:
                made = maker(root, path, text, definition, index, style, budget)
            except (GemmaLspError, SyntaxError, ValueError):
                continue  # a secret file, a function the parser and ast disagree on: no example
            if made is not None:
                yield Example(task, source, *made)


def _explain(root, path, text, definition: Definition, index, style, budget):
    parts = _function_parts(text, definition)
    if parts is None or parts.docstring is None or not parts.body:
        return None
    summary = explain_answer(parts.docstring)
    if len(summary) < 12:
        return None
    without = parts.replace_in(text, parts.head_without_docstring + parts.body)
    packed = build_context(path, without, (parts.def_line, 0), (parts.def_line, 0), index, budget)
    if explain.repeated_docstring(summary, packed):
        return None  # a docstring its neighbour shares teaches copying the neighbour, which Explain refuses
    request = explain.build_request(packed, style, 256, 0.0)
    if style == "chat":
        return request, summary
    return request, " " + _as_continuation(summary) + STOP


def explain_answer(docstring: str, max_words: int = EXPLAIN_WORDS) -> str:
    """The docstring's prose paragraphs, each on one line, while they fit in ``max_words`` (the first
    always, cut after its last whole sentence that fits); doctest and directive paragraphs are left out."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", docstring.strip())]
    paragraphs = [p for p in paragraphs if p and not p.startswith((">>>", ".."))]
    kept: list[str] = []
    for paragraph in paragraphs:
        if len(" ".join(kept + [paragraph]).split()) > max_words:
            if not kept:
                kept.append(_first_sentences(paragraph, max_words))
            break
        kept.append(paragraph)
    return "\n\n".join(kept)


def _first_sentences(paragraph: str, max_words: int) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", paragraph)
    kept = ""
    for sentence in sentences:
        if len((kept + " " + sentence).split()) > max_words:
            break
        kept = (kept + " " + sentence).strip()
    return kept or " ".join(paragraph.split()[:max_words])


def _as_continuation(summary: str) -> str:
    """"Return the x." -> "returns the x." (the answer prefix is the function's name)."""
    first, _, rest = summary.partition(" ")
    if first.isalpha() and first[0].isupper() and first.lower() not in ("the", "a", "an", "this", "if", "when"):
        verb = first.lower()
        verb = verb + ("es" if verb.endswith(("s", "sh", "ch", "x")) else "s") if not verb.endswith("s") else verb
        return f"{verb} {rest}".strip()
    return f"is described as: {summary}"


def _implement(root, path, text, definition: Definition, index, style, budget):
    parts = _function_parts(text, definition)
    if parts is None or not parts.body or len(parts.body.splitlines()) > MAX_BODY_LINES:
        return None
    if implement.needs_implementation(parts.head + parts.body):  # a stub or a TODO teaches nothing
        return None
    indent = re.match(r"\s*", parts.body).group(0)
    stub = parts.replace_in(text, parts.head + f"{indent}raise NotImplementedError\n")
    packed = build_context(path, stub, (parts.def_line, 0), (parts.def_line, 0), index, budget)
    request = implement.build_request(packed, style, 512, 0.0)
    whole = textwrap.dedent(parts.head + parts.body)
    if style == "chat":
        return request, f"```python\n{whole}```"
    if not whole.startswith(request.answer_prefix) or not request.answer_prefix:
        return None
    return request, whole[len(request.answer_prefix):].rstrip("\n") + STOP


def _tests(root, path, text, definition: Definition, index, style, budget, tests: list[str]):
    packed = build_context(path, text, (definition.start_line, 0), (definition.start_line, 0), index, budget)
    plan = generate_tests.plan(packed, root, text)
    request = generate_tests.build_request(packed, plan, style, 512, 0.0)
    body = "\n\n\n".join(textwrap.dedent(t).rstrip() for t in tests[:MAX_TESTS]) + "\n"
    if style == "chat":
        header = f"import pytest\nfrom {plan.module} import {plan.name}\n\n\n"
        return request, f"```python\n{header}{body}```"
    return request, body[len("def test_"):].rstrip("\n") + STOP


@dataclass(frozen=True)
class _Parts:
    """A function cut at its body: the lines before it (with and without the docstring) and the body."""

    first: int
    last: int
    def_line: int
    head: str
    head_without_docstring: str
    docstring: str | None
    body: str

    def replace_in(self, text: str, function: str) -> str:
        lines = text.splitlines(keepends=True)
        return "".join(lines[:self.first]) + function + "".join(lines[self.last + 1:])


def _function_parts(text: str, definition: Definition) -> _Parts | None:
    lines = text.splitlines(keepends=True)
    chunk = lines[definition.start_line:definition.end_line + 1]
    tree = ast.parse(textwrap.dedent("".join(chunk)))
    function = tree.body[0] if tree.body else None
    if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    statements = function.body
    docstring = ast.get_docstring(function)
    has_doc = docstring is not None and isinstance(statements[0], ast.Expr)
    body_start = (statements[1] if has_doc and len(statements) > 1 else statements[0]).lineno - 1
    if has_doc and len(statements) == 1:
        body_start = len(chunk)
    doc_start = statements[0].lineno - 1 if has_doc else body_start
    def_line = definition.start_line + function.lineno - 1  # the def line, after any decorators
    return _Parts(definition.start_line, definition.end_line, def_line, "".join(chunk[:body_start]),
                  "".join(chunk[:doc_start]), docstring if has_doc else None, "".join(chunk[body_start:]))


def tests_by_function(root: Path, index: WorkspaceIndex, texts: dict[Path, str]) -> dict[tuple[Path, str], list[str]]:
    """(module file, function name) -> the source of the test functions that call it, for
    functions a test file imports by name (``from pkg.mod import f`` ... ``f(``) or calls on
    their imported module (``import pkg.mod as m`` ... ``m.f(``, rewritten as ``f(``, the way the
    action's test file imports it). A name a package re-exports (``from pkg import f``, defined in
    ``pkg/mod.py``) counts for the module that defines it."""
    defined = _top_level_functions(texts)
    found: dict[tuple[Path, str], list[str]] = {}
    for path, text in texts.items():
        if not is_test_file(path):
            continue
        parsed = parse_python(text)
        calls = _call_patterns(parsed.imports, index)
        lines = text.splitlines(keepends=True)
        for definition in parsed.definitions:
            if definition.kind != "function" or not definition.name.startswith("test"):
                continue
            source = "".join(lines[definition.start_line:definition.end_line + 1])
            for pattern, module_file, name, local in calls:
                for called in {name} if name else set(pattern.findall(source)):
                    test = _calling_directly(source, local, called) if not name else source
                    home = _defining_file(defined, module_file, called)
                    if test is not None and home is not None and (not name or pattern.search(source)):
                        found.setdefault((home, called), []).append(test)
    return found


def _top_level_functions(texts: dict[Path, str]) -> dict[str, list[Path]]:
    defined: dict[str, list[Path]] = {}
    for path, text in texts.items():
        if not is_test_file(path):
            for definition in parse_python(text).definitions:
                if definition.kind == "function":
                    defined.setdefault(definition.name, []).append(path)
    return defined


def _defining_file(defined: dict[str, list[Path]], module_file: Path, name: str) -> Path | None:
    """``module_file`` when it defines ``name``; for a package's ``__init__.py``, the one module
    of the package that does (a re-export); else None (a class, a name from another package)."""
    homes = defined.get(name, [])
    if module_file in homes:
        return module_file
    if module_file.name != "__init__.py":
        return None
    inside = [home for home in homes if module_file.parent in home.parents]
    return inside[0] if len(inside) == 1 else None


def _calling_directly(source: str, local: str, name: str) -> str | None:
    """The test with ``local.name(`` written ``name(``; None when it uses anything else of ``local``
    (which the generated test file would not import)."""
    rewritten = re.sub(rf"\b{re.escape(local)}\.{re.escape(name)}\(", f"{name}(", source)
    return None if re.search(rf"\b{re.escape(local)}\.", rewritten) else rewritten


def _call_patterns(imports, index: WorkspaceIndex) -> list[tuple[re.Pattern, Path, str, str]]:
    """(what a call looks like, the module file, the function name or "" to take it from the call,
    the local name of the module)."""
    patterns = []
    for imp in imports:
        if imp.level:
            continue
        if not imp.names:  # import pkg.mod [as m]: calls m.f(
            module_file = index.module_file(imp.module)
            local = (imp.aliases or (imp.module,))[0]
            if module_file is not None:
                patterns.append((re.compile(rf"\b{re.escape(local)}\.(\w+)\("), Path(module_file), "", local))
            continue
        for local, name in imp.local_names().items():
            module_file = index.module_file(imp.module)
            if module_file is not None and local == name:
                patterns.append((re.compile(rf"(?<![\w.]){re.escape(local)}\("), Path(module_file), name, local))
    return patterns


def counts(examples: list[Example]) -> dict[str, int]:
    return {task: sum(e.task == task for e in examples) for task in TASKS}
