"""Explain and Generate tests end to end through the real server, timed (for the GPU machine).

    python tests/benchmarks/server_actions.py [--model PATH] [--out FILE]
    python tests/benchmarks/server_actions.py --model M --workspace BIG --target REL::NAME --actions explain \
        --set n_ctx=131072 --restart

Starts `python -m lsp_server serve` over stdio with pygls's own LanguageClient, opens the target
file (by default the e2e workspace's shop/cart.py, copied to a temp dir), asks for code actions
there and resolves "Explain" and "Generate tests", twice each (the second reuses the cached
prefix), at each `--target` in turn. Prints one JSON object with the wall time of each resolve, the time since the server was
started, whether a verified edit came back and, for Explain, the prompt's tokens, how many came
from the cache and the prefill time. ``--restart`` then starts a new server, which restores the
KV state the first saved: the first question in a big project, cold and warm. ``--wait-prefill``
asks only once the opened file's shared context is prefilled (features/prefill.py), as a user who
reads the file a while before asking would. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
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
EXPLAIN, TESTS = "Gemma: Explain ", "Gemma: Generate tests for "
DEFAULT_TARGET = "shop/cart.py:13:9"  # inside Cart.total
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
    window=types.WindowClientCapabilities(show_document=types.ShowDocumentClientCapabilities(support=True)),
)


@dataclasses.dataclass
class Target:
    """Where the actions are asked: a file of the workspace and a position inside a definition."""

    path: Path
    line: int
    character: int

    @classmethod
    def parse(cls, folder: Path, spec: str) -> Target:
        """``REL:LINE[:COL]`` (1-based line) or ``REL::NAME`` (the first ``def NAME`` / ``class NAME``)."""
        rel, _, where = spec.partition(":")
        path = folder / rel
        if where.startswith(":"):
            name = where[1:]
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            found = next(i for i, line in enumerate(lines) if re.match(rf"\s*(async\s+)?(def|class)\s+{re.escape(name)}\b", line))
            return cls(path, found + 1, len(lines[found]) - len(lines[found].lstrip()) + 4)
        line, _, column = where.partition(":")
        return cls(path, int(line) - 1, int(column or 8))


def prompt_facts(markdown: str) -> dict:
    """The Explain document's own account of the request: prompt tokens, how many the cache held, prefill time."""
    found = re.search(r"(\d+) prompt tokens \(the model's count; (\d+) reused from the cache.*?prefill ([\d.]+) s, decode ([\d.]+) s", markdown, re.DOTALL)
    if not found:
        return {}
    tokens, cached, prefill, decode = found.groups()
    return {"prompt_tokens": int(tokens), "cached_tokens": int(cached), "prefill_s": float(prefill), "decode_s": float(decode)}


async def start_server(folder: Path, options: dict, log_file: Path) -> tuple[LanguageClient, dict]:
    client = LanguageClient("server-actions", "1")
    seen: dict = {"messages": [], "documents": [], "log": []}
    client.feature(types.WINDOW_SHOW_MESSAGE)(lambda params: seen["messages"].append(params.message))
    client.feature(types.WINDOW_LOG_MESSAGE)(lambda params: seen["log"].append(params.message))

    @client.feature(types.WINDOW_SHOW_DOCUMENT)
    def show_document(params: types.ShowDocumentParams) -> types.ShowDocumentResult:
        seen["documents"].append(params.uri)
        return types.ShowDocumentResult(success=True)

    # The server's stderr (its log, and a faulthandler trace if it crashes) goes to a file.
    await client.start_io("bash", "-c", f"exec {shlex.quote(sys.executable)} -X faulthandler -m lsp_server serve 2>>{shlex.quote(str(log_file))}")
    await client.initialize_async(types.InitializeParams(
        capabilities=CAPABILITIES, root_uri=folder.as_uri(), initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name="workspace")]))
    client.initialized(types.InitializedParams())
    return client, seen


async def prefilled(seen: dict, name: str, started: float, timeout: float = 1800) -> dict:
    """Wait for the server's log line of the background prefill of ``name`` (features/prefill.py)."""
    done = re.compile(rf"Prefilled the context {re.escape(name)}'s functions share: (\d+) tokens \((\d+) already cached\) in ([\d.]+) s"
                      rf"|Prefill of {re.escape(name)}'s shared context skipped: (.*)")
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        match = next((m for line in seen["log"] if (m := done.search(line))), None)
        if match:
            if match.group(4) is not None:
                return {"skipped": match.group(4)[:200]}
            return {"tokens": int(match.group(1)), "cached": int(match.group(2)), "seconds": float(match.group(3)),
                    "since_start_s": round(time.perf_counter() - started, 2)}
        await asyncio.sleep(0.2)
    return {"timed_out": timeout}


async def one_start(folder: Path, targets: list[Target], options: dict, actions: list[str], wait_loaded: bool, log_file: Path,
                    wait_prefill: bool = False) -> dict:
    """Start the server, ask each action twice at each target in turn (the second reuses the
    cached prefix; the next target shows what another function's question reuses), stop it."""
    started = time.perf_counter()
    client, seen = await start_server(folder, options, log_file)
    results: dict = {"initialized_s": round(time.perf_counter() - started, 2)}
    if wait_loaded:  # the background warm-up (model load, saved KV state restored) has finished
        while not getattr(await client.protocol.send_request_async("gemma/status", None), "loaded", False):
            await asyncio.sleep(0.2)
        results["loaded_s"] = round(time.perf_counter() - started, 2)
    opened: set[Path] = set()
    for target in targets:
        uri = target.path.as_uri()
        if target.path not in opened:
            opened.add(target.path)
            client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, target.path.read_text())))
            if wait_prefill:  # the user reads the file a while before asking: its shared context is prefilled
                results[f"prefill of {target.path.name}"] = await prefilled(seen, target.path.name, started)
                print(json.dumps({f"prefill of {target.path.name}": results[f"prefill of {target.path.name}"]}), flush=True)
        at = types.Range(types.Position(target.line, target.character), types.Position(target.line, target.character))
        offered = await client.text_document_code_action_async(types.CodeActionParams(
            types.TextDocumentIdentifier(uri), at, types.CodeActionContext(diagnostics=[])))
        by_title = {a.title: a for a in offered or []}
        results.setdefault("titles", []).extend(sorted(by_title))
        for prefix in actions:
            title = next(t for t in sorted(by_title) if t.startswith(prefix) and "comment" not in t)
            for attempt in ("first", "second"):
                asked = time.perf_counter()
                resolved = await client.code_action_resolve_async(by_title[title])
                row = {"seconds": round(time.perf_counter() - asked, 2), "since_start_s": round(time.perf_counter() - started, 2),
                       "edit_offered": resolved.edit is not None}
                if prefix == EXPLAIN and seen["documents"]:
                    row.update(prompt_facts(Path(seen["documents"][-1].removeprefix("file://")).read_text()))
                results[f"{title} ({attempt})"] = row
                print(json.dumps({f"{title} ({attempt})": row}), flush=True)  # a run cut short still shows its rows
    results["messages"] = [m[:300] for m in seen["messages"]]
    restored = re.findall(r"Restored the KV cache of a (\d+)-token prompt prefix from .* in ([\d.]+) s", "\n".join(seen["log"]))
    results["restored"] = [{"tokens": int(n), "seconds": float(s)} for n, s in restored]
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return results


async def run(model: str | None, overrides: dict | None = None, *, workspace: Path | None = None, targets: tuple[str, ...] = (DEFAULT_TARGET,),
              actions: list[str] = (EXPLAIN, TESTS), restart: bool = False, wait_loaded: bool = False, wait_prefill: bool = False) -> dict:
    if workspace is None:  # the e2e workspace, copied: its files must stay as they are
        workspace = Path(tempfile.mkdtemp()) / "workspace"
        shutil.copytree(WORKSPACE, workspace)
    options = {"model": {"n_ctx": 8192, "max_tokens": 128, "temperature": 0.0, **({"path": model} if model else {}),
                         **(overrides or {})}}
    log_file = Path(tempfile.gettempdir()) / "server-actions-server.log"
    where = [Target.parse(workspace, target) for target in targets]
    results = await one_start(workspace, where, options, list(actions), wait_loaded, log_file, wait_prefill)
    if restart:  # the server saved the stable prefix's KV state when it stopped; a new one restores it
        results = {"first start": results,
                   "after a restart": await one_start(workspace, where, options, list(actions), wait_loaded, log_file, wait_prefill)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    parser.add_argument("--out")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="a model setting for the server, e.g. --set warm_up=false (repeatable)")
    parser.add_argument("--workspace", type=Path, help="a folder to open as it is (default: a copy of the e2e workspace)")
    parser.add_argument("--target", action="append", help="REL:LINE[:COL] or REL::NAME inside the workspace (repeatable: asked in turn)")
    parser.add_argument("--actions", nargs="+", choices=["explain", "tests"], default=["explain", "tests"])
    parser.add_argument("--restart", action="store_true", help="then stop, start a new server and ask again (restored KV state)")
    parser.add_argument("--wait-loaded", action="store_true", help="ask only once the background warm-up has loaded the model")
    parser.add_argument("--wait-prefill", action="store_true", help="after opening a file, ask only once its shared context is prefilled")
    args = parser.parse_args()
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    actions = [{"explain": EXPLAIN, "tests": TESTS}[a] for a in args.actions]
    results = asyncio.run(run(args.model, overrides, workspace=args.workspace, targets=tuple(args.target or [DEFAULT_TARGET]), actions=actions,
                              restart=args.restart, wait_loaded=args.wait_loaded, wait_prefill=args.wait_prefill))
    text = json.dumps(results, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
