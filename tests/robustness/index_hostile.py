"""Build the real workspace index of a tree and print what came of it, as JSON.

Run as its own process so that the test can run it without the capabilities that let root read
any file (tests/robustness/test_hostile_workspaces.py): chmod 000 then denies for real.
Usage: python -m tests.robustness.index_hostile ROOT MAX_FILE_BYTES [FILE_TO_DELETE_DURING_BUILD...]
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from lsp_server.config import IndexSettings
from lsp_server.index.workspace import WorkspaceIndex


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main(root: str, max_bytes: str, *vanishing: str) -> None:
    collect = Collect()
    logging.getLogger("lsp_server").addHandler(collect)
    logging.getLogger("lsp_server").setLevel(logging.INFO)
    index = WorkspaceIndex([Path(root)], IndexSettings(max_file_bytes=int(max_bytes), cache=False, watch=False, git=False))

    def delete_once(done: int, total: int) -> None:  # first call: discovery is over, parsing not begun
        for path in vanishing:
            if os.path.exists(path):
                os.unlink(path)

    reports = [index.build(delete_once), index.build()]  # the second build must report nothing new
    print(json.dumps({
        "indexed": sorted(index.snapshot()),
        "skipped": index.skipped(),
        "skip_logs": [m for m in collect.messages if m.startswith("index: skipping")],
        "files": [r.files for r in reports],
    }, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
