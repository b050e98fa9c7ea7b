"""Edge cases read off the code itself, for test-writing prompts.

Open models write the happy path and miss the edges unless told which ones: branches, raised
exceptions, None / empty / boundary values, loops run zero, one and many times.
"""

from __future__ import annotations

import ast
import textwrap


def edge_cases(code: str, limit: int = 12) -> list[str]:
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        found.extend(_cases_of(node))
    unique = list(dict.fromkeys(found))
    return unique[:limit]


def _cases_of(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _parameter_cases(node)
    if isinstance(node, ast.If):
        condition = ast.unparse(node.test)
        return [f"the branch where `{condition}` is true, and where it is false"]
    if isinstance(node, ast.Raise) and node.exc is not None:
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return [f"an input that raises `{ast.unparse(raised)}` (use pytest.raises)"]
    if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        return [f"`{ast.unparse(node.iter)}` with zero, one and many items"]
    if isinstance(node, ast.Compare):
        return _comparison_cases(node)
    return []


def _parameter_cases(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    cases = []
    defaults = node.args.defaults
    params = node.args.args[len(node.args.args) - len(defaults):]
    for param, default in zip(params, defaults):
        if isinstance(default, ast.Constant) and default.value is None:
            cases.append(f"`{param.arg}` left as None and given a value")
    return cases


def _comparison_cases(node: ast.Compare) -> list[str]:
    cases = []
    for op, right in zip(node.ops, node.comparators):
        if isinstance(op, (ast.Is, ast.IsNot)) and isinstance(right, ast.Constant) and right.value is None:
            cases.append(f"`{ast.unparse(node.left)}` being None")
        elif isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) and isinstance(right, ast.Constant) and isinstance(right.value, (int, float)):
            value = right.value
            cases.append(f"`{ast.unparse(node.left)}` at the boundary {value} (and just below and above it)")
        elif isinstance(op, (ast.Eq, ast.NotEq)) and isinstance(right, ast.Constant) and right.value in ("", 0):
            cases.append(f"`{ast.unparse(node.left)}` empty or zero")
    return cases
