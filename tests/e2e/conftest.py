"""End-to-end fixtures: the real ``gemma-lsp serve`` process with the real bundled model.

Every test runs twice over the backend: ``local`` (the model in the server's process) and
``remote`` (the same model served by llama-cpp-python's OpenAI-compatible server, started here on
127.0.0.1, and reached by the server's OpenAI backend).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

WORKSPACE = Path(__file__).parent / "workspace"
collect_ignore = ["workspace"]  # the fixture project's own tests are run by the server, not by us
SERVER = [sys.executable, "-m", "lsp_server", "serve"]
# Small and fast on a 2-core CI machine; the model is the real bundled GGUF.
MODEL_OPTIONS = {"model": {"n_ctx": 2048, "max_tokens": 48, "temperature": 0.0}}
ENGINE_START_SECONDS = 180
REMOTE_MODEL = "gemma-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_engine(process: subprocess.Popen, url: str, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + ENGINE_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"llama_cpp.server did not answer on {url} within {ENGINE_START_SECONDS} s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def remote_engine(tmp_path_factory) -> str:
    """A real engine on loopback: ``python -m llama_cpp.server`` with the bundled model."""
    pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python's server extra: pip install -e '.[test]'")
    from lsp_server.model.resolve import bundled_model_path

    port = free_port()
    log = tmp_path_factory.mktemp("engine") / "llama_cpp_server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--model_alias", REMOTE_MODEL,
               "--host", "127.0.0.1", "--port", str(port), "--chat_format", "gemma", "--n_ctx", "2048"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_engine(process, url, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def remote_options(url: str, **remote) -> dict:
    """The e2e options with the OpenAI backend. The bundled model is a base model: the server
    cannot tell, so the prompt style is set as a user of such a model would set it."""
    model = {**MODEL_OPTIONS["model"], "prompt_style": "completion"}
    settings = {"url": url, "model": REMOTE_MODEL, "llama_server_cache": True, "retries": 0, **remote}
    return {"model": model, "backend": "openai", "remote": settings}


CLIENTS = ["visual-studio-code", "neovim", "emacs"]
BACKENDS = ["local", "remote"]


def backend_options(request, backend: str) -> dict:
    if backend == "local":
        return MODEL_OPTIONS
    return remote_options(request.getfixturevalue("remote_engine"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    target = tmp_path / "workspace"
    shutil.copytree(WORKSPACE, target)
    return target


def initialize_params(client_name: str, root: Path, options: dict | None = None) -> types.InitializeParams:
    return types.InitializeParams(
        capabilities=client_capabilities(client_name),
        root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        initialization_options=MODEL_OPTIONS if options is None else options,
    )


def open_file(client: LanguageClient, path: Path) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=path.read_text()))
    )
    return uri


def collect_stream(client: LanguageClient) -> list[dict]:
    """Record the server's ``gemma/stream`` notifications."""
    received: list[dict] = []

    @client.feature("gemma/stream")
    def on_stream(params):
        # pygls hands over the params of a custom notification as a namedtuple
        received.append(params if isinstance(params, dict) else params._asdict())

    return received


def edits_applied_by(client: LanguageClient) -> list[types.ApplyWorkspaceEditParams]:
    applied: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams):
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    return applied


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=SERVER),
    params=[(name, backend) for name in CLIENTS for backend in BACKENDS],
    ids=[f"{name}-{backend}" for name in CLIENTS for backend in BACKENDS],
)
async def client(request, lsp_client: LanguageClient, workspace: Path):
    """The server as each editor starts it, over each backend (same tests, same assertions)."""
    name, backend = request.param
    lsp_client.client_name = name
    lsp_client.backend = backend
    lsp_client.stream = collect_stream(lsp_client)
    lsp_client.applied_edits = edits_applied_by(lsp_client)
    await lsp_client.initialize_session(initialize_params(name, workspace, backend_options(request, backend)))
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def bare_client(lsp_client: LanguageClient):
    """A client the test initializes itself (see ``start``)."""
    yield
    await lsp_client.shutdown_session()


async def start(lsp_client: LanguageClient, workspace: Path, options: dict, client_name: str = "visual-studio-code"):
    lsp_client.stream = collect_stream(lsp_client)
    await lsp_client.initialize_session(initialize_params(client_name, workspace, options))
