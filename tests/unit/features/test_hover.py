"""The hover's model part: an explanation in time, or the static facts alone, and bugs logged."""

from __future__ import annotations

import dataclasses
import logging
import time
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace

import pytest

from lsp_server.actions.hover import ExplanationCache, subject_at
from lsp_server.config import HoverSettings, Settings
from lsp_server.errors import ModelNotFound
from lsp_server.features import hover
from lsp_server.model.backend import Generation, ModelInfo

SOURCE = "def area(w, h):\n    return w * h\n"
INFO = ModelInfo("/m.gguf", "setting", "gemma3", "g", 2048, 2048, 0, False, False, "completion", 1)


class FakeBackend:
    def __init__(self, load=lambda: INFO, answer: str = "Multiplies the sides.") -> None:
        self._load, self.answer, self.submitted = load, answer, 0

    def load(self) -> ModelInfo:
        return self._load()

    def submit(self, request, on_text, cancel) -> Future:
        self.submitted += 1
        done = Future()
        done.set_result(Generation(self.answer, 10, 0, 3, "stop"))
        return done


def server(backend: FakeBackend) -> SimpleNamespace:
    settings = Settings(hover=HoverSettings(wait_seconds=0.2))
    return SimpleNamespace(assistant=SimpleNamespace(settings=settings, backend=backend), hover_cache=ExplanationCache())


def subject():
    return subject_at(Path("/w/geo.py"), SOURCE, 0, 5, [Path("/w")], lambda path: None)


async def test_an_answer_in_time_is_shown_and_cached():
    backend = FakeBackend()
    ls = server(backend)
    assert await hover._explanation(ls, subject()) == "Multiplies the sides."
    assert await hover._explanation(ls, subject()) == "Multiplies the sides." and backend.submitted == 1


def fail(error: Exception):
    def load():
        raise error
    return load


@pytest.mark.parametrize("load", [fail(ModelNotFound("no model")), lambda: time.sleep(1) or INFO], ids=["no model", "too slow"])
async def test_no_model_in_time_shows_the_static_facts_quietly(load, caplog):
    with caplog.at_level(logging.ERROR, logger="lsp_server"):
        assert await hover._explanation(server(FakeBackend(load)), subject()) is None
    assert caplog.records == []


async def test_a_bug_is_logged_and_the_static_facts_still_show(caplog):
    with caplog.at_level(logging.ERROR, logger="lsp_server"):
        assert await hover._explanation(server(FakeBackend(fail(KeyError("n_ctx")))), subject()) is None
    assert "the hover explanation failed" in caplog.text and "KeyError" in caplog.text


async def test_another_adapter_is_asked_again():
    """A LoRA adapter changes the answers: the cache keys on the adapters as on the model."""
    backend = FakeBackend()
    ls = server(backend)
    assert await hover._explanation(ls, subject()) == "Multiplies the sides."
    ls.assistant.settings = dataclasses.replace(ls.assistant.settings, model=dataclasses.replace(ls.assistant.settings.model, lora_path="/a/lora.gguf"))
    assert await hover._explanation(ls, subject()) == "Multiplies the sides." and backend.submitted == 2
