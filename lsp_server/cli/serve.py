"""``gemma-lsp serve``: the language server over stdio or TCP."""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys

from lsp_server.assistant import Assistant
from lsp_server.config import Settings


def serve(settings: Settings, tcp: str | None) -> int:
    from lsp_server.server import create_server

    logging.getLogger("lsp_server").setLevel(settings.log_level.upper())
    # `kill -USR1 <pid>` prints every thread's stack to stderr: how a hang is diagnosed.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # The event loop shares the GIL with the index build's result thread; at the default 5 ms
    # switch interval a request can wait several slices for it, and codeAction's p99 during a
    # cold build was 1.25 s. 1 ms shortens each wait (tests/benchmarks/bench_code_action.py
    # measures it; see RESULTS.md for whether it was run since).
    sys.setswitchinterval(0.001)
    server = create_server(Assistant(settings))
    if tcp:
        host, _, port = tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0
