"""Changes made outside the editor (git checkout, code generators) reach the index via watchdog."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from lsp_server.index.discovery import SUFFIXES

log = logging.getLogger(__name__)


class _Forward(FileSystemEventHandler):
    def __init__(self, on_change: Callable[[Path], None]) -> None:
        self._on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = raw.decode() if isinstance(raw, bytes) else raw
            if path and path.endswith(SUFFIXES):
                try:
                    self._on_change(Path(path))
                except Exception:  # one bad file must not stop the watcher thread
                    log.exception("index update for %s failed", path)


def watch(roots: list[Path], on_change: Callable[[Path], None]) -> Observer | None:
    """Start a watcher calling ``on_change(path)`` for each created, changed, moved or deleted file."""
    observer = Observer()
    handler = _Forward(on_change)
    try:
        for root in roots:
            observer.schedule(handler, str(root), recursive=True)
        observer.daemon = True
        observer.start()
    except OSError as exc:  # e.g. the inotify watch limit
        log.warning("not watching the workspace for outside changes: %s", exc)
        return None
    return observer
