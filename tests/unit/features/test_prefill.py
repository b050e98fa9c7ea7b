"""The background prefill's queue: the last opened Python file, one at a time, only once ready."""

import asyncio
from types import SimpleNamespace

from lsp_server.config import Settings
from lsp_server.features import prefill


def fake_server(warm_up: bool = True):
    done: list[str] = []
    ls = SimpleNamespace(prefill_queue=prefill.PrefillQueue(), assistant=SimpleNamespace(settings=Settings()), tasks=[])
    ls.assistant.settings.model.warm_up = warm_up
    ls.run_in_background = lambda work: ls.tasks.append(work)
    return ls, done


def run_all(ls, done, monkeypatch):
    monkeypatch.setattr(prefill, "prefill_file", lambda _ls, uri: done.append(uri))
    while ls.tasks:
        asyncio.run(ls.tasks.pop(0))


def test_files_opened_before_the_warm_up_wait_and_only_the_last_is_prefilled(monkeypatch):
    ls, done = fake_server()
    prefill.opened(ls, "file:///w/a.py")
    prefill.opened(ls, "file:///w/notes.md")  # not Python: ignored
    prefill.opened(ls, "file:///w/b.py")
    assert not ls.tasks  # the index and the model are not ready yet
    prefill.start(ls)
    run_all(ls, done, monkeypatch)
    assert done == ["file:///w/b.py"]
    prefill.opened(ls, "file:///w/c.py")  # ready now: at once
    run_all(ls, done, monkeypatch)
    assert done == ["file:///w/b.py", "file:///w/c.py"] and not ls.prefill_queue.running


def test_without_warm_up_nothing_is_prefilled(monkeypatch):
    ls, done = fake_server(warm_up=False)
    prefill.opened(ls, "file:///w/a.py")
    prefill.start(ls)
    run_all(ls, done, monkeypatch)
    assert done == []


def test_the_first_top_level_definition_is_where_the_context_is_packed():
    assert prefill.first_definition('"""Doc."""\nimport os\nLIMIT = 3\n\n@cache\ndef f():\n    pass\n') == (4, 0)  # its decorator
    assert prefill.first_definition("x = 1\nif x:\n    y = 2\n") is None
