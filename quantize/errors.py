"""Typed errors of the quantize package. Each message says what to do next."""

from __future__ import annotations

# BadInput is also raised by the GGUF header reader in lsp_server/model/, which gemma-quantize uses.
from lsp_server.errors import BadInput, GemmaLspError  # noqa: F401


class QuantizeError(GemmaLspError):
    """Base class of the errors only gemma-quantize raises. The CLI prints any GemmaLspError's
    message (these and BadInput) and exits with status 2."""


class UnknownShape(QuantizeError):
    """A named shape that the shapes table does not have."""


class UnknownQuantType(QuantizeError):
    """A quantization or KV cache type name that is not supported."""


class UnsupportedArchitecture(QuantizeError):
    """A model of an architecture this package cannot handle (only Gemma 3 / Gemma 4)."""


class MissingTensor(QuantizeError):
    """A checkpoint lacks a tensor the architecture needs."""


class OutputExists(QuantizeError):
    """The output file exists and --force was not given."""


class NotEnoughDisk(QuantizeError):
    """The output folder has too little free space for the file to write."""


class QuantizeFailed(QuantizeError):
    """llama.cpp's quantizer returned an error."""
