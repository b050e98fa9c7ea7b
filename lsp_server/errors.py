"""Typed errors. Each message says what the user can do next."""


class GemmaLspError(Exception):
    """Base class for errors that are shown to the user as they are."""


class ModelNotFound(GemmaLspError):
    """No model file could be resolved."""


class ModelLoadFailed(GemmaLspError):
    """A model file exists but llama.cpp could not load it."""


class GenerationCancelled(GemmaLspError):
    """The request that asked for the generation was cancelled."""


class GenerationFailed(GemmaLspError):
    """The backend failed while generating."""


class DocumentNotFound(GemmaLspError):
    """A request named a document the server has never seen and cannot read."""


class PositionOutOfRange(GemmaLspError):
    """A request named a position outside the document."""


class NoTarget(GemmaLspError):
    """There is no code at the requested place to act on."""


class BadInput(GemmaLspError):
    """An input file or folder that is missing or not what it should be (e.g. not a GGUF file)."""


class InvalidRequest(GemmaLspError):
    """A request's parameters are not what the server sent or expects."""
