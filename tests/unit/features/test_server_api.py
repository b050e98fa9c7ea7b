"""The server object the features use is declared in one place, and the server has all of it."""

from __future__ import annotations

import ast
from pathlib import Path

import lsp_server.features
from lsp_server.assistant import Assistant
from lsp_server.features.server_api import Server
from lsp_server.server import create_server

FEATURES = Path(lsp_server.features.__file__).parent


def declared() -> set[str]:
    return set(Server.__annotations__) | {name for name, value in vars(Server).items() if callable(value) or isinstance(value, property)}


def used_by(source: str) -> set[str]:
    """Attributes read off ``ls`` (or a feature object's ``self._ls``)."""
    used = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id == "ls":
                used.add(node.attr)
            if isinstance(base, ast.Attribute) and base.attr == "_ls" and isinstance(base.value, ast.Name) and base.value.id == "self":
                used.add(node.attr)
    return used


def test_the_server_has_every_declared_member():
    server = create_server(Assistant())
    # On the class for properties (pygls' workspace raises before initialize), else on the object.
    assert sorted(name for name in declared() if not hasattr(type(server), name) and name not in vars(server)) == []
    assert {"assistant", "workspace", "show_problem", "stream_ids"} <= declared()


def test_features_use_only_what_the_server_declares():
    undeclared = {
        path.name: sorted(used_by(path.read_text()) - declared())
        for path in sorted(FEATURES.glob("*.py"))
    }
    assert {name: attrs for name, attrs in undeclared.items() if attrs} == {}


def test_the_scan_sees_reads_and_writes():
    assert used_by("def f(ls):\n    ls.hidden = 1\n    return ls.assistant.index\n") == {"hidden", "assistant"}
    assert used_by("class P:\n    def g(self):\n        self._ls.secret.add(1)\n") == {"secret"}
