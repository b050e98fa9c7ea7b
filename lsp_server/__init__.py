"""gemma-lsp: a local code assistant for Python, spoken through the Language Server Protocol."""

__version__ = "0.1.0"
