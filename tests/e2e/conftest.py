"""End-to-end fixtures: the real ``gemma-lsp serve`` process with the real bundled model."""

from __future__ import annotations

import shutil
import sys
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


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=["visual-studio-code", "neovim", "emacs"])
async def client(request, lsp_client: LanguageClient, workspace: Path):
    lsp_client.client_name = request.param
    lsp_client.stream = collect_stream(lsp_client)
    lsp_client.applied_edits = edits_applied_by(lsp_client)
    await lsp_client.initialize_session(initialize_params(request.param, workspace))
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
