"""The assistant's share of thinking: room for the thought in the context budget, and the
thinking settings apply per request (no model reload)."""

import dataclasses

import pytest

from lsp_server.assistant import Assistant
from lsp_server.config import Settings, settings_from_mapping
from lsp_server.model.backend import ModelInfo


class Backend:
    def __init__(self, thinks: bool) -> None:
        self.thinks = thinks
        self.closed = False
        self.loaded = False

    def load(self) -> ModelInfo:
        return ModelInfo(path="m.gguf", source="test", architecture="gemma4" if self.thinks else "gemma3", name="m",
                         n_ctx=8192, n_ctx_train=8192, n_gpu_layers=0, gpu_offload_supported=False,
                         has_chat_template=True, prompt_style="chat", size_bytes=1, supports_thinking=self.thinks)

    def close(self) -> None:
        self.closed = True


def assistant(thinks: bool, thinking: str = "auto", loaded: bool = True) -> Assistant:
    settings = Settings()
    settings = dataclasses.replace(settings, model=dataclasses.replace(settings.model, n_ctx=8192, max_tokens=256, thinking=thinking, thinking_max_tokens=1024))
    result = Assistant(settings, backend_factory=lambda _settings: Backend(thinks))
    if loaded:
        result.backend.loaded = True
    return result


@pytest.mark.parametrize("thinks, thinking, loaded, reserved", [
    (True, "auto", True, 1024),
    (True, "on", True, 1024),
    (True, "off", True, 0),
    (False, "auto", True, 0),  # Gemma 3: its context budget is what it always was
    (True, "auto", False, 0),  # not loaded yet: not known (and the model is not loaded for it)
])
def test_the_context_budget_leaves_room_for_a_thought_only_where_there_can_be_one(thinks, thinking, loaded, reserved):
    plain = assistant(False, "off").context_budget()
    assert plain - assistant(thinks, thinking, loaded).context_budget() == reserved


def test_thinking_settings_apply_without_a_reload():
    subject = assistant(True)
    backend = subject.backend
    changed, problems = settings_from_mapping({"model": {"thinking": "on", "thinkingMaxTokens": 64}}, subject.settings)
    assert not problems
    subject.update_settings(changed)
    assert not backend.closed and subject.settings.model.thinking == "on" and subject.settings.model.thinking_max_tokens == 64
