"""Canary secrets planted in a workspace never appear in any prompt the assistant packs.

The workspace imports its secrets the way real code does; every definition of every file (and
every whole file as a selection) is packed into a prompt in both prompt styles, through the same
Assistant and request path the server uses, and each prompt is searched for every canary.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.assistant import Assistant
from lsp_server.config import Settings
from lsp_server.context.build import read_file
from lsp_server.index.python_symbols import parse_python
from lsp_server.model.backend import CancelToken, GenerationRequest
from lsp_server.pipeline import explain as explain_pipeline
from lsp_server.pipeline.run import Ask, Watch
from lsp_server.privacy.secrets import SecretFileRefused
from tests.fake_backend import FakeBackend, model_info

CANARIES = {
    ".env": "OPENAI_API_KEY=CANARY-env-5d1e\n",
    ".env.local": "DB_PASSWORD=CANARY-envlocal-77aa\n",
    "key.pem": "-----BEGIN PRIVATE KEY-----\nCANARY-pem-9c2b\n-----END PRIVATE KEY-----\n",
    "deploy/id_rsa": "CANARY-idrsa-0f0f\n",
    "config/secret_token.py": 'API_TOKEN = "CANARY-secret-token-3b8f"\n\n\ndef get_token():\n    """Return the token."""\n    return "CANARY-secret-fn-41d0"\n',
    "config/local_passwords.py": 'ADMIN_PASSWORD = "CANARY-gitignored-a1b2"\n\n\ndef admin_password():\n    return "CANARY-gitignored-fn-c3d4"\n',
    "config/vault/store.py": 'def vault_key():\n    return "CANARY-projectfile-e5f6"\n',
}
CODE = {
    ".gitignore": "config/local_passwords.py\n",
    ".gemma-lsp-secrets": "config/vault/\n",
    "app/__init__.py": "",
    "config/__init__.py": "",
    "config/settings.py": 'def database_url():\n    """Where the database is."""\n    return "postgres://localhost/app"\n',
    "app/main.py": (
        "from config.secret_token import API_TOKEN, get_token\n"
        "from config.local_passwords import admin_password\n"
        "from config.vault.store import vault_key\n"
        "from config.settings import database_url\n\n\n"
        "def connect():\n    return database_url(), get_token(), admin_password(), vault_key(), API_TOKEN\n\n\n"
        "class Client:\n    def login(self):\n        return get_token()\n"
    ),
}
SECRET_CODE_FILES = {"config/secret_token.py", "config/local_passwords.py", "config/vault/store.py"}


@pytest.fixture
def canary_workspace(tmp_path: Path) -> Path:
    for relative, text in {**CANARIES, **CODE}.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def prompt_text(request: GenerationRequest) -> str:
    return (request.text or "") + "".join(m.content for m in request.messages) + request.answer_prefix


def places(text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The cursor in every definition, and the whole file selected."""
    lines = text.splitlines()
    if not lines:
        return []
    spots = [((d.start_line, 0), (d.start_line, 0)) for d in parse_python(text).definitions]
    return spots + [((0, 0), (len(lines), 0))]


@pytest.mark.parametrize("style", ["chat", "completion"])
def test_no_canary_in_any_packed_prompt(canary_workspace: Path, style: str):
    backend = FakeBackend(answers=("ok",), info=model_info(style))  # records exactly what would be sent
    assistant = Assistant(Settings(), backend_factory=lambda settings: backend)
    refused = set()
    for path in sorted(canary_workspace.rglob("*.py")):
        relative = path.relative_to(canary_workspace).as_posix()
        text = path.read_text()
        for start, end in places(text):
            try:
                prepared = explain_pipeline.prepare(assistant, Ask(path, text, start, end, [canary_workspace], read_file))
            except SecretFileRefused:
                refused.add(relative)
                continue
            explain_pipeline.run(assistant, prepared, Watch(), CancelToken())
    assert refused == SECRET_CODE_FILES
    prompts = [prompt_text(request) for request in backend.requests]
    assert len(prompts) >= 5 and any("database_url" in p for p in prompts), "the ordinary code did reach the prompts"
    for prompt in prompts:
        leaked = [c for c in _canary_strings() if c in prompt]
        assert not leaked, f"canaries {leaked} leaked into a {style} prompt"


def test_the_canary_check_can_fail(canary_workspace: Path):
    """Without the secret filter the same workspace leaks: the test above is not vacuous."""
    from lsp_server.context.imports import imported_definitions

    main = canary_workspace / "app" / "main.py"
    related = imported_definitions(parse_python(main.read_text()).imports, main, [canary_workspace], read_file)
    assert any("CANARY" in definition.text for definition in related)


def _canary_strings() -> list[str]:
    found = []
    for text in CANARIES.values():
        found += [word.strip('"') for word in text.replace("=", " ").split() if "CANARY" in word]
    return found
