"""``gemma-quantize tune``: a LoRA adapter trained on a repository's own code (dataset.py builds
the examples, train.py trains with PyTorch and PEFT, export.py writes the GGUF adapter)."""

from __future__ import annotations

from quantize.errors import QuantizeError

INSTALL = "pip install 'gemma-lsp[tune]'"


class TuneExtraMissing(QuantizeError):
    """PyTorch, transformers or PEFT is not installed."""


def require_tune_extra():
    """(torch, transformers, peft), or TuneExtraMissing saying what to install."""
    try:
        import peft
        import torch
        import transformers
    except ImportError as exc:
        raise TuneExtraMissing(
            f"`gemma-quantize tune` trains with PyTorch, transformers and PEFT, and {exc.name} is not installed: "
            f"{INSTALL} (for a GPU, install the CUDA build of PyTorch first: see pytorch.org). "
            "`--dataset-only` builds the training set without them."
        ) from exc
    return torch, transformers, peft
