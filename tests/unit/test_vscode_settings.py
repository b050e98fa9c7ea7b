"""The VS Code extension's settings (editors/vscode/package.json) checked against config.py.

Every server setting is contributed as ``gemmaLsp.<section>.<camelKey>`` with config.py's type,
default, choices and range, so VS Code validates what it sends and sends what the server expects
(the extension sends every contributed setting, defaults included). A setting missing from
package.json fails with the JSON to paste into ``contributes.configuration.properties``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from pathlib import Path
from typing import Literal, get_args, get_origin

import pytest

from lsp_server.config import Settings, field_docs

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "editors" / "vscode" / "package.json"
EXTENSION_SETTINGS = REPO / "editors" / "vscode" / "src" / "settings.ts"
CLIENT_ONLY = ("pythonPath", "trace")
"""Settings only the extension reads (settings.ts leaves them out of what it sends)."""
SCHEMA_KEYS = ("type", "default", "enum", "items", "minimum", "maximum", "exclusiveMinimum")


def camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def server_settings() -> dict[str, tuple[type, dataclasses.Field]]:
    """``gemmaLsp.<section>.<camelKey>`` -> (the settings class, the field), in config.py's order."""
    found = {}
    for section in dataclasses.fields(Settings):
        value = getattr(Settings(), section.name)
        if not dataclasses.is_dataclass(value):
            found[f"gemmaLsp.{camel(section.name)}"] = (Settings, section)
            continue
        for field in dataclasses.fields(value):
            found[f"gemmaLsp.{camel(section.name)}.{camel(field.name)}"] = (type(value), field)
    return found


def schema(cls: type, field: dataclasses.Field) -> dict:
    """What package.json must say of one setting: its JSON type, default, choices and range."""
    declared = json_type(typing.get_type_hints(cls)[field.name])
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    declared["default"] = "" if default is None else list(default) if isinstance(default, tuple) else default
    bounds = field.metadata.get("bounds")
    if bounds is not None:
        limits = {"minimum": bounds.minimum, "maximum": bounds.maximum, "exclusiveMinimum": bounds.exclusive_minimum}
        declared.update({key: limit for key, limit in limits.items() if limit is not None})
    return declared


def json_type(hint) -> dict:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return {"type": "string", "enum": list(args)}
    if origin is tuple:
        return {"type": "array", "items": {"type": "string"}}
    if args:  # a union: str | None (VS Code's empty string is None), Literal["auto"] | bool
        parts = [json_type(arg) for arg in args if arg is not type(None)]
        if len(parts) == 1:
            return parts[0]
        if all("enum" not in part and part["type"] != "boolean" for part in parts):  # str | tuple[str, ...]
            return {"type": [part["type"] for part in parts], **{k: v for part in parts for k, v in part.items() if k == "items"}}
        choices = [choice for part in parts for choice in part.get("enum", [True, False] if part["type"] == "boolean" else [])]
        return {"type": [part["type"] for part in parts], "enum": choices}
    return {"type": {bool: "boolean", int: "integer", float: "number", str: "string"}[hint]}


def entry(cls: type, field: dataclasses.Field) -> dict:
    """A package.json entry for a setting: the schema and config.py's docstring, in camelCase names."""
    names = {name for _, f in server_settings().values() for name in [f.name] if "_" in name}
    doc = re.sub(r"\b[a-z]+(?:_[a-z0-9]+)+\b", lambda m: camel(m.group(0)) if m.group(0) in names else m.group(0), field_docs(cls)[field.name])
    return {**schema(cls, field), "description": doc}


def contributed() -> dict[str, dict]:
    return json.loads(PACKAGE.read_text())["contributes"]["configuration"]["properties"]


def is_client_only(key: str) -> bool:
    return key.split(".")[1] in CLIENT_ONLY


def test_every_contributed_server_setting_has_the_type_default_choices_and_range_of_config_py():
    expected = server_settings()
    for key, declared in contributed().items():
        if is_client_only(key):
            continue
        assert key in expected, f"{key} is not a setting of config.py"
        wanted = schema(*expected[key])
        assert {k: declared.get(k) for k in SCHEMA_KEYS} == {k: wanted.get(k) for k in SCHEMA_KEYS}, key


def test_every_server_setting_is_contributed():
    missing = {key: entry(*found) for key, found in server_settings().items() if key not in contributed()}
    assert not missing, "add to contributes.configuration.properties in editors/vscode/package.json:\n" + json.dumps(missing, indent=2)


def test_every_contributed_setting_is_described():
    assert [key for key, declared in contributed().items() if not (declared.get("description") or declared.get("markdownDescription"))] == []


def test_the_client_only_settings_are_those_the_extension_keeps_to_itself():
    kept = re.search(r"const CLIENT_ONLY = \[([^\]]*)\]", EXTENSION_SETTINGS.read_text()).group(1)
    assert sorted(re.findall(r"'(\w+)'", kept)) == sorted(CLIENT_ONLY)
    assert {key.split(".")[1] for key in contributed() if is_client_only(key)} == set(CLIENT_ONLY)


@pytest.mark.parametrize(("key", "expected"), [
    ("gemmaLsp.model.nCtx", {"type": "integer", "default": 8192, "minimum": 256}),
    ("gemmaLsp.model.path", {"type": "string", "default": ""}),
    ("gemmaLsp.model.loraPath", {"type": ["string", "array"], "items": {"type": "string"}, "default": ""}),
    ("gemmaLsp.onSave.stubTests", {"type": ["string", "boolean"], "enum": ["auto", True, False], "default": "auto"}),
    ("gemmaLsp.remote.allowedHosts", {"type": "array", "items": {"type": "string"}, "default": []}),
    ("gemmaLsp.verify.timeoutSeconds", {"type": "number", "default": 120.0, "exclusiveMinimum": 0}),
    ("gemmaLsp.logLevel", {"type": "string", "enum": ["debug", "info", "warning", "error"], "default": "info"}),
])
def test_the_schema_read_off_config_py(key, expected):
    assert schema(*server_settings()[key]) == expected


def test_a_workspace_cannot_redirect_code_or_run_a_program():
    """A repository's .vscode/settings.json must not set where prompts go (backend, remote.*), the
    interpreter the extension starts (pythonPath) or unjailed test runs: those are machine-scoped,
    so VS Code takes them from the user's own settings only."""
    properties = json.loads(PACKAGE.read_text())["contributes"]["configuration"]["properties"]
    guarded = [k for k in properties if k in ("gemmaLsp.pythonPath", "gemmaLsp.backend", "gemmaLsp.verify.allowUnsandboxed")
               or k.startswith("gemmaLsp.remote.")]
    assert len(guarded) == 11
    assert all(properties[k].get("scope") == "machine" for k in guarded), [k for k in guarded if properties[k].get("scope") != "machine"]
