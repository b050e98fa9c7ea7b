"""Load llama.cpp's shared libraries before numpy, scipy and tree-sitter are imported.

Measured on the GPU machine (H100, llama-cpp-python 0.3.36 built with CUDA, Python 3.12): with
numpy / scipy / networkx / tree_sitter_python imported first, every model load died with SIGSEGV
inside ``llama_model::print_info`` (``std::ostream::operator<<(long)`` bound to a copy inside
libggml-cuda.so); with llama_cpp imported first, the same load in the same process works. The
CPU build never showed it. So every command that loads a model calls this first, before the
rest of the server is imported.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def preload_llama_libraries() -> bool:
    """Import llama_cpp (which opens its shared libraries) if it is installed. Returns whether
    it was. A missing or broken llama-cpp-python is reported later, by the first model request,
    with the message that says what to install; here it is only logged."""
    try:
        import llama_cpp  # noqa: F401  (imported for its side effect: the libraries are open)
    except (ImportError, OSError) as exc:  # OSError: a shared library that does not load
        log.debug("llama_cpp could not be imported early: %s", exc)
        return False
    return True
