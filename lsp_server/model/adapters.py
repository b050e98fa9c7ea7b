"""LoRA adapters (``model.lora_path``): which files, and whether they fit the base model.

llama.cpp checks an adapter only while it loads it, and reports a mismatch as a generic failure
in its log; so the GGUF headers are compared here first, and a mismatch is refused with what to
do. The rules are llama.cpp's (llama-adapter.cpp): the adapter is a GGUF of general.type
"adapter" and adapter.type "lora", of the base's architecture; each ``<name>.lora_a`` /
``<name>.lora_b`` pair names a base tensor ``<name>`` with a = [n_in, rank] and b = [rank, n_out]
where the base tensor is [n_in, n_out] (ggml's dimension order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lsp_server.errors import ModelLoadFailed

NO_ADAPTER = ("", "none")
BUNDLED_ADAPTER = Path(__file__).resolve().parent / "data" / "gemma3-270m-code-lora.gguf"
"""The adapter trained for the bundled Gemma 3 270M (``gemma-quantize tune`` on a GPU; what it
learned from is in the .json beside it). Applied by default with that model only."""
TRAIN_ONE = "Train one for this model with `gemma-quantize tune --base <the model's .gguf>`"


@dataclass(frozen=True)
class AdapterFacts:
    path: Path
    alpha: float
    rank: int
    tensors: int
    """Base tensors the adapter changes."""

    def describe(self) -> dict:
        return {"path": str(self.path), "alpha": self.alpha, "rank": self.rank, "tensors": self.tensors}


def adapter_paths(setting: str | tuple[str, ...] | None, bundled_model: bool = False) -> tuple[Path, ...]:
    """The files of ``model.lora_path``: a path, or a list of paths; "none" for none; "" (the
    default) for the bundled adapter when the model is the bundled one, else none."""
    if not setting and bundled_model and BUNDLED_ADAPTER.is_file():
        return (BUNDLED_ADAPTER,)
    items = (setting,) if isinstance(setting, str) or setting is None else setting
    return tuple(Path(item).expanduser() for item in items if item and item.strip().lower() not in NO_ADAPTER)


def check_adapters(paths: tuple[Path, ...], base: Path) -> list[AdapterFacts]:
    """Every adapter's facts, or ModelLoadFailed naming the first that does not fit ``base``."""
    if not paths:
        return []
    from lsp_server.model.gguf_header import read_header  # gguf and numpy load only when a model does

    base_header = read_header(base)
    base_arch = base_header.get("general.architecture")
    base_dims = {t.name: t.dims for t in base_header.tensors}
    return [_check_one(path, base, base_arch, base_dims) for path in paths]


def _check_one(path: Path, base: Path, base_arch: str, base_dims: dict[str, tuple[int, ...]]) -> AdapterFacts:
    from lsp_server.errors import BadInput
    from lsp_server.model.gguf_header import read_header

    where = f"model.lora_path: {path}"
    try:
        header = read_header(path)
    except BadInput as exc:
        raise ModelLoadFailed(f"{where}: {exc} Give a GGUF LoRA adapter, or set model.lora_path to \"none\".") from exc
    kind = (header.get("general.type"), header.get("adapter.type"))
    if kind != ("adapter", "lora"):
        raise ModelLoadFailed(
            f"{where} is not a LoRA adapter (general.type={kind[0]!r}, adapter.type={kind[1]!r}): it looks like a "
            "model. Put a model in model.path; model.lora_path takes GGUF LoRA adapters only. " + TRAIN_ONE + ".")
    arch = header.get("general.architecture")
    if arch != base_arch:
        raise ModelLoadFailed(
            f"{where} is an adapter for {arch!r} models, but the base model {base.name} is {base_arch!r}. "
            "Use an adapter trained on this base model. " + TRAIN_ONE + ".")
    dims = {t.name: t.dims for t in header.tensors}
    pairs = sorted({name.rsplit(".", 1)[0] for name in dims if name.endswith((".lora_a", ".lora_b"))})
    if not pairs:
        raise ModelLoadFailed(f"{where} holds no LoRA tensors (<name>.lora_a / <name>.lora_b). " + TRAIN_ONE + ".")
    rank = 0
    for name in pairs:
        rank = _check_pair(where, base, name, dims.get(f"{name}.lora_a"), dims.get(f"{name}.lora_b"), base_dims.get(name))
    return AdapterFacts(path, float(header.get("adapter.lora.alpha", 0.0) or 0.0), rank, len(pairs))


def _check_pair(where: str, base: Path, name: str, a, b, weight) -> int:
    mismatch = (f"{where} does not fit the base model {base.name}: {{}}. It was trained on another base model "
                f"(or another size of it); use an adapter trained on {base.name}. " + TRAIN_ONE + ".")
    if a is None or b is None:
        raise ModelLoadFailed(f"{where} is damaged: {name} has only one of lora_a and lora_b.")
    if weight is None:
        raise ModelLoadFailed(mismatch.format(f"it changes {name}, which the base model does not have"))
    if len(a) != 2 or len(b) != 2 or a[0] != weight[0] or b[1] != weight[1] or a[1] != b[0]:
        raise ModelLoadFailed(mismatch.format(
            f"{name} is {list(weight)} in the base model but the adapter's lora_a/lora_b are {list(a)}/{list(b)}"))
    return int(a[1])
