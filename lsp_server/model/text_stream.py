"""Turn a stream of token bytes into text pieces, stopping at stop strings.

Pure helpers for the backends: UTF-8 sequences split across tokens are joined, and text that
might be the start of a stop string is held back until it is known not to be.
"""

from __future__ import annotations

import codecs


class TextStream:
    def __init__(self, stop: tuple[str, ...] = (), prefix: str = "") -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = tuple(s for s in stop if s)
        self._pending = ""
        self.text = prefix
        """Everything emitted so far."""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Add a token's bytes; return the text that is now safe to show."""
        if self.stopped:
            return ""
        self._pending += self._decoder.decode(data)
        for stop in self._stop:
            index = self._pending.find(stop)
            if index != -1:
                self.stopped = True
                return self._emit(self._pending[:index])
        hold = self._longest_stop_prefix_suffix()
        ready = self._pending[: len(self._pending) - hold]
        self._pending = self._pending[len(ready) :]
        return self._emit(ready, keep_pending=True)

    def finish(self) -> str:
        """Flush what is held back at the end of generation."""
        if self.stopped:
            return ""
        self._pending += self._decoder.decode(b"", final=True)
        return self._emit(self._pending)

    def _emit(self, piece: str, keep_pending: bool = False) -> str:
        if not keep_pending:
            self._pending = ""
        self.text += piece
        return piece

    def _longest_stop_prefix_suffix(self) -> int:
        best = 0
        for stop in self._stop:
            for size in range(min(len(stop) - 1, len(self._pending)), 0, -1):
                if self._pending.endswith(stop[:size]):
                    best = max(best, size)
                    break
        return best
