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
