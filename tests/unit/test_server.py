"""The server's wiring: a notification reaches every feature, whichever of them fails."""

from __future__ import annotations

import logging

from pygls.exceptions import FeatureNotificationError

from lsp_server.server import fan_out


class FakeServer:
    def __init__(self) -> None:
        self.reported: list[tuple[Exception, type]] = []

    def report_server_error(self, error: Exception, source: type) -> None:
        self.reported.append((error, source))


def broken(ls, uri: str) -> None:
    raise RuntimeError(f"cannot index {uri}")


def test_a_failing_feature_is_logged_and_reported_and_the_next_still_runs(caplog):
    ls, seen = FakeServer(), []
    with caplog.at_level(logging.ERROR, logger="lsp_server"):
        fan_out(ls, "didOpen", (broken, lambda ls, uri: seen.append(uri), broken), "file:///w/a.py")
    assert seen == ["file:///w/a.py"]
    assert [(str(error), source) for error, source in ls.reported] == [("cannot index file:///w/a.py", FeatureNotificationError)] * 2
    assert "didOpen failed in tests.unit.test_server.broken" in caplog.text and "RuntimeError" in caplog.text


def test_without_failures_nothing_is_reported():
    ls, seen = FakeServer(), []
    fan_out(ls, "didSave", (lambda ls, uri: seen.append(1), lambda ls, uri: seen.append(2)), "file:///w/a.py")
    assert seen == [1, 2] and ls.reported == []
