"""The worker both backends share: one request at a time, cancelled ones never start, close cancels."""

from __future__ import annotations

import threading

import pytest

from lsp_server.errors import GenerationCancelled
from lsp_server.model.backend import CancelToken
from lsp_server.model.worker import ModelWorker


def test_a_request_cancelled_while_it_waited_never_starts():
    worker, started = ModelWorker("test"), []
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(GenerationCancelled):
        worker.submit(lambda c: started.append(c), cancel).result(timeout=5)
    assert started == []
    assert worker.submit(lambda c, x: x * 2, CancelToken(), 21).result(timeout=5) == 42
    worker.stop(wait=True)


def test_stop_cancels_the_running_request_and_drops_the_waiting_ones():
    worker, entered = ModelWorker("test"), threading.Event()
    running, waiting = CancelToken(), CancelToken()

    def work(cancel: CancelToken) -> str:
        with worker.running(cancel):
            entered.set()
            while not cancel.cancelled:
                threading.Event().wait(0.01)
        return "stopped"

    first = worker.submit(work, running)
    second = worker.submit(work, waiting)
    assert entered.wait(5) and worker.active is running
    worker.stop(wait=True)
    assert first.result(timeout=5) == "stopped" and running.cancelled
    assert second.cancelled() and worker.active is None
