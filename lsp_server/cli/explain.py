"""``gemma-lsp explain FILE:LINE[:COLUMN]``: the server's Explain pipeline, streamed to the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

from lsp_server.actions import explain as explain_action
from lsp_server.assistant import Assistant
from lsp_server.config import Settings
from lsp_server.context.build import read_file
from lsp_server.errors import DocumentNotFound, GemmaLspError, PositionOutOfRange
from lsp_server.index.git_facts import GitFacts
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import explain as explain_pipeline
from lsp_server.pipeline.run import Ask, Watch

ROOT_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg")


def parse_location(location: str) -> tuple[Path, int, int]:
    """``path:line[:column]``, 1-based as editors show them, to (path, 0-based line, 0-based column)."""
    parts = location.rsplit(":", 2)
    numbers = []
    while len(parts) > 1 and parts[-1].isdigit():
        numbers.insert(0, int(parts.pop()))
    if not numbers:
        raise PositionOutOfRange(f"{location!r} names no line: write FILE:LINE, e.g. lsp_server/cli/explain.py:20")
    line, column = numbers[0], numbers[1] if len(numbers) > 1 else 1
    if line < 1 or column < 1:
        raise PositionOutOfRange(f"Lines and columns start at 1, got {location!r}.")
    return Path(":".join(parts)), line - 1, column - 1


def workspace_root(path: Path) -> Path:
    for folder in path.parents:
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return path.parent


def explain(settings: Settings, location: str, show_context: bool) -> int:
    path, line, column = parse_location(location)
    path = path.resolve()
    text = read_file(path)
    if text is None:
        raise DocumentNotFound(f"Cannot read {path} as a UTF-8 text file.")
    line_count = len(text.splitlines())
    if line >= line_count:
        raise PositionOutOfRange(f"{path.name} has {line_count} lines; line {line + 1} is outside it.")
    assistant = Assistant(settings)
    root = workspace_root(path)
    report = assistant.index_for([root]).build()
    assistant.git = GitFacts.open(root) if settings.index.git else None
    print(f"Indexed {report.files} files under {root} in {report.seconds:.2f} s", file=sys.stderr)
    info = assistant.backend.load()
    ask = Ask(path, text, (line, column), (line, column), [root])
    prepared = explain_pipeline.prepare(assistant, ask)
    target = prepared.packed.target
    print(f"Explaining {target.name} ({target.kind}, lines {target.start_line + 1}-{target.end_line + 1}) with {info.name} [{info.source}]", file=sys.stderr)
    if show_context:
        for item in prepared.manifest:
            print(f"  context: {item['title']} ({item['tokens']} tokens est., {'in' if item['included'] else 'left out'}: {item['reason']})", file=sys.stderr)
    watch = Watch(on_text=lambda piece: (sys.stdout.write(piece), sys.stdout.flush()), on_prefill=_prefill_progress)
    cancel = CancelToken()
    try:
        result = explain_pipeline.run(assistant, prepared, watch, cancel)
    except KeyboardInterrupt:
        cancel.cancel()
        raise
    finally:
        assistant.close()
    gen = result.generation
    print(f"\n[{gen.prompt_tokens} prompt tokens, {gen.completion_tokens} generated, prefill {gen.prefill_seconds:.2f} s, decode {gen.decode_seconds:.2f} s]", file=sys.stderr)
    if not result.text:
        raise GemmaLspError("The model returned no text. Real answers need a Gemma 4 GGUF (see the README).")
    if result.repeats:
        print(f"Note: {explain_action.repeats_note(result)}", file=sys.stderr)
    return 0


def _prefill_progress(done: int, total: int) -> None:
    """The prompt read so far, on one line of the terminal (stderr: stdout holds the answer)."""
    if sys.stderr.isatty():
        print(f"\rreading the prompt: {done} of {total} tokens", end="\n" if done >= total else "", file=sys.stderr, flush=True)
