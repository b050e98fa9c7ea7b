"""No network client anywhere in the shipped code but the remote backend.

Scans every module of lsp_server/ and quantize/ for imports of network client modules and for
calls that open connections or download. An exception must be listed in ALLOWED, with a reason:
a new one fails this test until someone decides it is wanted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("lsp_server", "quantize")
NETWORK_MODULES = {
    "socket", "ssl", "socketserver", "http.client", "http.server", "urllib.request", "urllib3", "requests",
    "httpx", "httpcore", "aiohttp", "websockets", "websocket", "ftplib", "smtplib", "poplib", "imaplib",
    "telnetlib", "xmlrpc.client", "xmlrpc.server", "asyncssh", "paramiko", "grpc", "huggingface_hub",
    "pycurl", "tornado", "twisted", "zmq",
}
NETWORK_CALLS = {
    "urlopen", "urlretrieve", "create_connection", "open_connection", "start_server", "start_tcp", "start_ws",
    "from_pretrained", "hf_hub_download", "snapshot_download",
}
ALLOWED = {
    ("lsp_server/model/openai_backend.py", "httpx"): "the remote backend: the one HTTP client",
    ("lsp_server/model/openai_backend.py", "socket"): "shuts a cancelled stream's socket down",
    ("lsp_server/model/openai_backend.py", "ssl"): "a company CA bundle for HTTPS verification",
    ("lsp_server/cli/serve.py", "start_tcp"): "pygls' TCP serve mode (gemma-lsp serve --tcp), chosen by the user",
    ("quantize/tune/train.py", "from_pretrained"): "loads a local checkpoint folder or GGUF with local_files_only=True: never downloads",
}


def network_uses(source: str) -> set[str]:
    """Network modules imported (also through importlib) and network calls made in ``source``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {_network_module(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(_network_module(node.module))
            found |= {_network_module(f"{node.module}.{alias.name}") for alias in node.names}
        elif isinstance(node, ast.Call):
            found.add(_call_name(node))
    return found - {None}


def _network_module(name: str) -> str | None:
    parts = name.split(".")
    for size in range(len(parts), 0, -1):
        if ".".join(parts[:size]) in NETWORK_MODULES:
            return ".".join(parts[:size])
    return None


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
        return _network_module(str(node.args[0].value))
    return name if name in NETWORK_CALLS else None


def shipped_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def test_no_new_network_clients():
    unexpected = []
    for path in shipped_modules():
        relative = path.relative_to(REPO).as_posix()
        for use in sorted(network_uses(path.read_text(encoding="utf-8"))):
            if (relative, use) not in ALLOWED:
                unexpected.append(f"{relative}: {use}")
    assert not unexpected, "network clients outside the remote backend: " + ", ".join(unexpected)


def test_every_allowed_use_still_exists():
    """A stale exception would silently allow the next one."""
    for relative, use in ALLOWED:
        assert use in network_uses((REPO / relative).read_text(encoding="utf-8")), f"{relative} no longer uses {use}"


@pytest.mark.parametrize(
    "source, use",
    [
        ("import socket", "socket"),
        ("import urllib.request as r", "urllib.request"),
        ("from urllib import request", "urllib.request"),
        ("from http.client import HTTPSConnection", "http.client"),
        ("import requests.adapters", "requests"),
        ("def f():\n    import aiohttp", "aiohttp"),
        ("import importlib\nimportlib.import_module('websockets')", "websockets"),
        ("import asyncio\nasyncio.open_connection('h', 1)", "open_connection"),
        ("Llama.from_pretrained('repo', 'file')", "from_pretrained"),
    ],
)
def test_the_scanner_finds(source, use):
    assert use in network_uses(source)


def test_the_scanner_ignores_harmless_code():
    assert network_uses("import urllib.parse\nfrom pathlib import Path\nfrom . import socket_helpers\nprint(1)") == set()
