"""Facts about the explained code read off the code and the index, never the model.

A small model's explanation is short and sometimes wrong; beside it, the Explain document lists
what can be known for sure: the signature, what the code returns and raises, what it calls,
who uses and tests it, what it overrides (from the context's ranking, which reads the index),
and the last commits that changed it. The model's answer stays the explanation.
"""

from __future__ import annotations

import ast
import textwrap

from lsp_server.context.target import Target

LIMIT = 8
"""Items shown per fact; the rest are counted."""
EXPRESSION_CHARS = 60
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_INDEX_FACTS = (("Used by", "uses the target"), ("Tested by", "tests the target"),
                ("Overrides", "overridden by the target"), ("Base classes", "base class of the target"))
"""(label, the ranking's reason that gives it): context/rank.py's direct edges."""


def code_facts(target: Target, manifest: list[dict], commits: list[str]) -> list[tuple[str, str]]:
    """(label, Markdown value) rows, in reading order; a fact with nothing to say is left out."""
    rows = []
    if target.definition is not None and target.kind != "selection":
        rows.append(("Signature", f"`{' '.join(target.definition.signature.split()).rstrip(':')}`"))
    source = _dedented(target.text)
    node = _parsed(source, target.kind)
    if node is not None:
        rows += _code_rows(node, source)
    for label, reason in _INDEX_FACTS:
        found = [f"`{row['symbol']}` ({row['path']}:{row['start_line']})" for row in manifest if reason in row.get("reason", "") and row.get("symbol")]
        if found:
            rows.append((label, _listed(found)))
    if commits:
        rows.append(("Last commits", "; ".join(commits)))
    return [(label, value) for label, value in rows if value]


def facts_markdown(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return ""
    return "## Facts read off the code\n\n" + "".join(f"- **{label}:** {value}\n" for label, value in rows) + "\n"


def _dedented(text: str) -> str:
    """The code at the left margin; a selection that starts after its first line's indentation
    has the rest dedented alone."""
    whole = textwrap.dedent(text)
    try:
        ast.parse(whole)
        return whole
    except (SyntaxError, ValueError):
        lines = text.splitlines(keepends=True)
        return lines[0].lstrip() + textwrap.dedent("".join(lines[1:]))


def _parsed(source: str, kind: str) -> ast.AST | None:
    """The target's definition node, or the module of a selection; None when it does not parse."""
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    if kind == "selection":
        return module
    return next((n for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))), None)


def _code_rows(node: ast.AST, source: str) -> list[tuple[str, str]]:
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        own = [n for method in methods for n in own_nodes(method)]
        return [("Methods", _listed([f"`{m.name}`" for m in methods])), ("Raises", raises(own, source)), ("Calls", calls(own, source))]
    own = list(own_nodes(node))
    return [("Returns", returns(node, own, source)), ("Raises", raises(own, source)), ("Calls", calls(own, source))]


def own_nodes(node: ast.AST):
    """The nodes of ``node``'s own body: nested functions, lambdas and classes are not entered."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, _SCOPES):
            yield from own_nodes(child)


def returns(node: ast.AST, own: list[ast.AST], source: str) -> str:
    """The annotation and the return statements' expressions; a generator says what it yields."""
    parts = []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
        parts.append(f"annotated `{_code(node.returns, source)}`")
    yields = [n for n in own if isinstance(n, (ast.Yield, ast.YieldFrom))]
    if yields:
        parts.append("a generator, yielding " + _listed(_unique(_expression(n.value, source) for n in yields)))
        return "; ".join(parts)
    values = _unique(_expression(n.value, source) for n in own if isinstance(n, ast.Return))
    if values:
        parts.append(_listed(values))
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        parts.append("`None` (no return statement)")
    return "; ".join(parts)


def raises(own: list[ast.AST], source: str) -> str:
    names = []
    for n in own:
        if isinstance(n, ast.Raise):
            raised = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            names.append(f"`{_code(raised, source)}`" if raised is not None else "the exception being handled (bare `raise`)")
    return _listed(_unique(names))


def calls(own: list[ast.AST], source: str) -> str:
    """What the code calls, in order; building the exception it raises is no call worth listing."""
    raised = {id(n.exc) for n in own if isinstance(n, ast.Raise)}
    return _listed(_unique(f"`{_code(n.func, source)}`" for n in own if isinstance(n, ast.Call) and id(n) not in raised))


def _expression(node: ast.AST | None, source: str) -> str:
    return "`None`" if node is None else f"`{_code(node, source)}`"


def _code(node: ast.AST, source: str) -> str:
    """The node's text as written (``ast.unparse`` when the source has no segment), shortened."""
    return _short(ast.get_source_segment(source, node) or ast.unparse(node))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXPRESSION_CHARS else text[: EXPRESSION_CHARS - 3] + "..."


def _unique(items) -> list[str]:
    return list(dict.fromkeys(items))


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:LIMIT])
    return shown + (f" and {len(items) - LIMIT} more" if len(items) > LIMIT else "")
