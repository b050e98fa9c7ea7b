"""``gemma-lsp index [PATH] [--json]``: build (or refresh) the workspace index and say what it holds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lsp_server.config import Settings
from lsp_server.index.workspace import WorkspaceIndex


def index_command(settings: Settings, path: str | None, as_json: bool, show_progress: bool = True) -> int:
    root = Path(path or ".").resolve()
    index = WorkspaceIndex([root], settings.index)
    on_progress = _printer() if show_progress and not as_json and sys.stderr.isatty() else None
    report = index.build(on_progress)
    facts = {
        "root": str(root),
        "files": report.files,
        "bytes": report.bytes,
        "symbols": report.symbols,
        "parsed": report.parsed,
        "from_cache": report.from_cache,
        "seconds": round(report.seconds, 3),
        "skipped": report.skipped,
    }
    if as_json:
        print(json.dumps(facts, indent=2))
    else:
        print(f"{report.files} files, {report.bytes / 1e6:.1f} MB, {report.symbols} definitions in {report.seconds:.2f} s "
              f"({report.parsed} parsed, {report.from_cache} from the cache)")
        for skipped, reason in sorted(report.skipped.items()):
            print(f"  skipped {skipped}: {reason}")
    return 0


def _printer():
    def show(done: int, total: int) -> None:
        print(f"\rindexing {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    return show
