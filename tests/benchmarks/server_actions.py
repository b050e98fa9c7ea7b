"""Explain and Generate tests end to end through the real server, timed (for the GPU machine).

    python tests/benchmarks/server_actions.py [--model PATH] [--out FILE]

Starts `python -m lsp_server serve` over stdio with pygls's own LanguageClient, opens the e2e
workspace's shop/cart.py (copied to a temp dir), asks for code actions on Cart.total and resolves
"Explain" and "Generate tests", twice each (the second reuses the cached prefix). Prints one JSON
object with the wall time of each resolve and whether a verified edit came back. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = ROOT / "tests" / "e2e" / "workspace"
CAPABILITIES = types.ClientCapabilities(
    text_document=types.TextDocumentClientCapabilities(
        code_action=types.CodeActionClientCapabilities(
            data_support=True,
            resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
            code_action_literal_support=types.ClientCodeActionLiteralOptions(
                code_action_kind=types.ClientCodeActionKindOptions(value_set=["", "quickfix", "refactor", "refactor.rewrite"])),
        )
    ),
    workspace=types.WorkspaceClientCapabilities(workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=True)),
)


async def run(model: str | None, overrides: dict | None = None) -> dict:
    folder = Path(tempfile.mkdtemp()) / "workspace"
    shutil.copytree(WORKSPACE, folder)
    client = LanguageClient("server-actions", "1")
    messages: list[str] = []
    client.feature(types.WINDOW_SHOW_MESSAGE)(lambda params: messages.append(params.message))
    # The server's stderr (its log, and a faulthandler trace if it crashes) goes to a file.
    log_file = Path(tempfile.gettempdir()) / "server-actions-server.log"
    await client.start_io("bash", "-c", f"exec {shlex.quote(sys.executable)} -X faulthandler -m lsp_server serve 2>{shlex.quote(str(log_file))}")
    options = {"model": {"n_ctx": 8192, "max_tokens": 128, "temperature": 0.0, **({"path": model} if model else {}),
                         **(overrides or {})}}
    await client.initialize_async(types.InitializeParams(
        capabilities=CAPABILITIES, root_uri=folder.as_uri(), initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name="workspace")]))
    client.initialized(types.InitializedParams())
    cart = folder / "shop" / "cart.py"
    uri = cart.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, cart.read_text())))
    at = types.Range(types.Position(12, 8), types.Position(12, 8))
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), at, types.CodeActionContext(diagnostics=[])))
    by_title = {a.title: a for a in actions or []}
    results = {"titles": sorted(by_title)}
    for title in ("Gemma: Explain Cart.total", "Gemma: Generate tests for Cart.total"):
        for attempt in ("first", "second"):
            started = time.perf_counter()
            resolved = await client.code_action_resolve_async(by_title[title])
            results[f"{title} ({attempt})"] = {
                "seconds": round(time.perf_counter() - started, 2),
                "title": resolved.title,
                "edit_offered": resolved.edit is not None,
            }
    results["messages"] = [m[:300] for m in messages]
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--out")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="a model setting for the server, e.g. --set warm_up=false (repeatable)")
    args = parser.parse_args()
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    results = asyncio.run(run(args.model, overrides))
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
