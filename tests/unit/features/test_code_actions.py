"""codeAction/resolve reads back only the data it made."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from lsprotocol import types
from pygls.protocol import default_converter

from lsp_server.errors import InvalidRequest
from lsp_server.features.code_actions import _action_data

LS = SimpleNamespace(converter=default_converter())
RANGE = {"start": {"line": 3, "character": 0}, "end": {"line": 5, "character": 2}}


def action(**data) -> types.CodeAction:
    return types.CodeAction(title="Explain f", data=data)


def test_its_own_data_comes_back_typed():
    key, uri, rng, instruction, refine = _action_data(LS, action(action="refactor", uri="file:///w/a.py", range=RANGE, instruction="shorter"))
    assert (key, uri, instruction, refine) == ("refactor", "file:///w/a.py", "shorter", False)
    assert rng == types.Range(types.Position(3, 0), types.Position(5, 2))
    change = _action_data(LS, action(action="change", uri="file:///w/a.py", range=RANGE, instruction="also log it", refine=True))
    assert change[0] == "change" and change[3:] == ("also log it", True)


@pytest.mark.parametrize("data", [
    {"action": "explain", "uri": "file:///w/a.py", "range": {"start": {"line": "x", "character": 0}}},
    {"action": "explain", "uri": "file:///w/a.py", "range": None},
    {"action": "explain", "uri": "file:///w/a.py"},
    {"action": "unknown", "uri": "file:///w/a.py", "range": RANGE},
    {"action": "explain", "uri": 7, "range": RANGE},
    {"action": "refactor", "uri": "file:///w/a.py", "range": RANGE, "instruction": ["no"]},
], ids=["bad range", "null range", "no range", "unknown action", "uri not a string", "instruction not a string"])
def test_anything_else_is_an_invalid_request(data):
    with pytest.raises(InvalidRequest, match="ask for code actions again"):
        _action_data(LS, action(**data))
