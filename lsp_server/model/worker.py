"""What both backends share: one worker thread that runs one request at a time, and the cancel
token of the request it is running (``close`` cancels that one before it stops the worker)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from lsp_server.model.backend import CancelToken

T = TypeVar("T")


class ModelWorker:
    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.active: CancelToken | None = None
        """The cancel token of the request being generated, if any."""

    def submit(self, work: Callable[..., T], cancel: CancelToken, *args) -> Future[T]:
        """Run ``work(cancel, *args)`` on the worker; a request cancelled while it waited never starts."""
        return self._pool.submit(self._start, work, cancel, *args)

    @staticmethod
    def _start(work: Callable[..., T], cancel: CancelToken, *args) -> T:
        cancel.raise_if_cancelled()
        return work(cancel, *args)

    @contextmanager
    def running(self, cancel: CancelToken) -> Iterator[None]:
        """Marks ``cancel`` as the active request's for as long as the block runs."""
        self.active = cancel
        try:
            yield
        finally:
            self.active = None

    def stop(self, wait: bool) -> None:
        """Cancel the active request, drop the waiting ones, and stop the thread."""
        active = self.active
        if active is not None:
            active.cancel()
        self._pool.shutdown(wait=wait, cancel_futures=True)
