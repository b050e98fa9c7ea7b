"""What the CLI and the server share: settings applied to the assistant."""

from lsp_server.assistant import Assistant
from lsp_server.config import settings_from_mapping


def test_per_request_settings_do_not_reload_the_model():
    closed = []

    class Backend:
        def close(self):
            closed.append(True)

    assistant = Assistant(backend_factory=lambda settings: Backend())
    assistant.backend
    cheaper, _ = settings_from_mapping({"model": {"maxTokens": 12, "temperature": 0.7}}, assistant.settings)
    assistant.update_settings(cheaper)
    assert closed == [] and assistant.settings.model.max_tokens == 12
    bigger, _ = settings_from_mapping({"model": {"nCtx": 4096}}, assistant.settings)
    assistant.update_settings(bigger)
    assert closed == [True]
    assistant.backend
    adapted, _ = settings_from_mapping({"model": {"loraPath": ["a.gguf", "b.gguf"]}}, assistant.settings)
    assistant.update_settings(adapted)
    assert closed == [True, True], "another adapter: the model is loaded again with it"


def test_whether_the_model_is_loaded_is_the_backends_word():
    class Backend:
        loaded = False

        def close(self):
            pass

    assistant = Assistant(backend_factory=lambda settings: Backend())
    assert not assistant.model_loaded, "no backend yet"
    assistant.backend.loaded = True
    assert assistant.model_loaded
    assistant.close()
    assert not assistant.model_loaded, "closed: a new backend would have to load again"
