"""Every use of llama-cpp-python's private parts, in one module checked against the versions
it was written for.

llama-cpp-python has no public way to keep file descriptors 1 and 2 alone while it loads a model,
to set llama.cpp's abort callback, or to reach a ``Llama``'s raw context, model and vocab
pointers. What follows does, on the versions in ``TESTED_VERSIONS``; on any other, importing this
module refuses with a message that says what to install, instead of failing deep inside a load
or a generation. Import it only where llama_cpp may be imported (see ``native``).
"""

from __future__ import annotations

import ctypes
from typing import Callable

import llama_cpp
import llama_cpp._internals
import llama_cpp.llama

from lsp_server.errors import GemmaLspError

TESTED_VERSIONS = ("0.3.36",)


class UnsupportedLlamaCpp(GemmaLspError):
    """The installed llama-cpp-python is not a version whose internals gemma-lsp was tested with."""


def check_version(version: str) -> None:
    if version not in TESTED_VERSIONS:
        raise UnsupportedLlamaCpp(
            f"llama-cpp-python {version} is installed; gemma-lsp works with {', '.join(TESTED_VERSIONS)}: "
            f"pip install 'llama-cpp-python=={TESTED_VERSIONS[-1]}'."
        )


check_version(llama_cpp.__version__)


class _KeepFileDescriptors:
    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def never_redirect_stdout() -> None:
    """Stop llama-cpp-python from pointing fd 1 and 2 at /dev/null while it loads a model.

    With verbose=False it does that process-wide, so in serve mode every LSP response written
    during a model load (stdout is the protocol) vanished and its client waited forever.
    llama.cpp's own logging goes through its log callback, filtered by verbose=False anyway.
    """
    llama_cpp.llama.suppress_stdout_stderr = _KeepFileDescriptors
    llama_cpp._internals.suppress_stdout_stderr = _KeepFileDescriptors


def context(llm) -> int:
    """The ``llama_context *`` of a ``Llama``."""
    return llm._ctx.ctx


def model(llm) -> int:
    """The ``llama_model *`` of a ``Llama``."""
    return llm._model.model


def vocab(llm) -> int:
    """The ``llama_vocab *`` of a ``Llama``."""
    return llm._model.vocab


def abort_switch(llm, should_abort: Callable[[object], bool]) -> Callable[[bool], None]:
    """A function that turns llama.cpp's abort callback (``should_abort``) on and off for ``llm``'s
    context. llama-cpp-python exposes the callback type but not the setter; the C function is in
    its library. Keep the returned function as long as the context: it keeps the callback alive."""
    callback = llama_cpp.ggml_abort_callback(should_abort)
    setter = llama_cpp.llama_cpp._lib.llama_set_abort_callback
    setter.argtypes = [ctypes.c_void_p, llama_cpp.ggml_abort_callback, ctypes.c_void_p]
    setter.restype = None
    off = llama_cpp.ggml_abort_callback(0)
    return lambda on: setter(context(llm), callback if on else off, None)


def attach_lora(llm, paths: list[str], scale: float = 1.0) -> None:
    """Load the LoRA adapters at ``paths`` onto ``llm``'s model and set them all on its context.

    ``Llama(lora_path=...)`` takes one adapter and turns mmap off; llama.cpp's adapter API takes
    any number. The adapters are freed with the ``Llama`` (its exit stack), before its model.
    Raises RuntimeError when llama.cpp refuses one (the caller checked the headers first).
    """
    adapters = []
    for path in paths:
        adapter = llama_cpp.llama_adapter_lora_init(model(llm), path.encode("utf-8"))
        if adapter is None:
            raise RuntimeError(f"llama.cpp could not load the LoRA adapter {path}")
        llm._stack.callback(llama_cpp.llama_adapter_lora_free, adapter)
        adapters.append(adapter)
    array = (llama_cpp.llama_adapter_lora_p_ctypes * len(adapters))(*adapters)
    scales = (ctypes.c_float * len(adapters))(*([scale] * len(adapters)))
    if llama_cpp.llama_set_adapters_lora(context(llm), array, len(adapters), scales) != 0:
        raise RuntimeError(f"llama.cpp could not set the LoRA adapters {', '.join(paths)}")
