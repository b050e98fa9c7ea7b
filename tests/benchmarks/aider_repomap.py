"""Aider's repository map on a batch of requests: which lines it shows, for bench_retrieval.

Runs under the Python of a separate venv holding aider-chat (it pins many packages, so it stays
out of the project's venv); bench_retrieval starts it as a subprocess. Does not import
lsp_server.

Input (JSON file, argv[1]): {"root": dir, "files": [absolute paths],
  "requests": [{"chat": absolute path, "idents": [names], "tokens": map budget}]}
Output (JSON file, argv[2]): {"shown": [{relative path: [0-based lines shown]} per request],
  "seconds": [per request], "aider": version}

Each request is what Aider does in a chat: the current file is in the chat, every other file is
a candidate for the map, ``idents`` are the identifiers the user's message mentions, and the map
gets ``tokens`` tokens. Aider's RepoMap picks the tags and renders them with grep_ast's
TreeContext; the lines that rendering shows (tag lines plus the scope headers around them) are
reported, read from the TreeContext that produced the chosen map.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

from aider.repomap import RepoMap


class EstimatingModel:
    """Token counts by the same estimate the benchmark packs ours with (about 3 characters a token)."""

    def token_count(self, text: str) -> int:
        return len(text) // 3 + 1


class QuietIO:
    def read_text(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except (OSError, UnicodeDecodeError):
            return None

    def tool_output(self, *args, **kwargs) -> None:
        pass

    tool_warning = tool_error = tool_output


class RecordingRepoMap(RepoMap):
    """Remembers, for every map text it renders, the lines each file showed in it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shown_by_tree: dict[str, dict[str, list[int]]] = {}
        self._rendering: dict[str, list[int]] = {}

    def render_tree(self, abs_fname, rel_fname, lois):
        result = super().render_tree(abs_fname, rel_fname, lois)
        context = self.tree_context_cache[rel_fname]["context"]
        context.lines_of_interest = set()  # render again to read show_lines: the result may be cached
        context.add_lines_of_interest(lois)
        context.add_context()
        self._rendering[rel_fname] = sorted(context.show_lines)
        return result

    def to_tree(self, tags, chat_rel_fnames):
        self._rendering = {}
        tree = super().to_tree(tags, chat_rel_fnames)
        self.shown_by_tree[tree] = dict(self._rendering)
        return tree


def main() -> None:
    with open(sys.argv[1]) as handle:
        job = json.load(handle)
    repo_map = RecordingRepoMap(root=job["root"], main_model=EstimatingModel(), io=QuietIO(), refresh="always")
    shown, seconds = [], []
    for request in job["requests"]:
        others = [f for f in job["files"] if f != request["chat"]]
        started = time.perf_counter()
        tree = None
        if request["tokens"] > 0:
            repo_map.shown_by_tree = {}
            tree = repo_map.get_ranked_tags_map([request["chat"]], others, request["tokens"], set(), set(request["idents"]), force_refresh=True)
        seconds.append(time.perf_counter() - started)
        shown.append(repo_map.shown_by_tree.get(tree, {}) if tree else {})
    with open(sys.argv[2], "w") as handle:
        json.dump({"shown": shown, "seconds": seconds, "aider": version("aider-chat")}, handle)


if __name__ == "__main__":
    main()
