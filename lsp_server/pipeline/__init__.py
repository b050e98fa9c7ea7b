"""One synchronous pipeline per assistant action: what the CLI runs and the server wraps.

Each action is two steps: ``prepare`` (pack the context and everything the prompt needs; quick)
and ``run`` (the model, then the action's own checks; slow). Between them a caller can show what
is about to happen (the CLI prints the target, the server opens its progress). Nothing here knows
LSP: the server's features run these on a worker thread and translate the result.
"""
