import threading
import time
from pathlib import Path

from lsp_server.config import IndexSettings
from lsp_server.index import editing
from lsp_server.index.workspace import WorkspaceIndex


def make_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("from .shapes import area\n")
    (root / "pkg" / "shapes.py").write_text("def area(w, h):\n    return w * h\n")
    (root / "pkg" / "main.py").write_text("from pkg.shapes import area\n\ndef run():\n    return area(1, 2)\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_shapes.py").write_text("from pkg import shapes\n\ndef test_area():\n    assert shapes.area(2, 3) == 6\n")
    return root


def new_index(root: Path, **settings) -> WorkspaceIndex:
    return WorkspaceIndex([root], IndexSettings(**settings), cache_dir=root.parent / "cache")


def test_build_indexes_definitions_and_import_links(tmp_path):
    root = make_repo(tmp_path / "w")
    index = new_index(root)
    report = index.build()
    assert (report.files, report.parsed, report.from_cache) == (4, 4, 0)
    shapes, main = str(root / "pkg" / "shapes.py"), str(root / "pkg" / "main.py")
    assert [d.qualname for d in index.facts(shapes).definitions] == ["area"]
    assert index.imports_of(main) == [shapes]
    assert index.importers_of(shapes) == sorted([str(root / "pkg" / "__init__.py"), main, str(root / "tests" / "test_shapes.py")])


def test_a_warm_start_reads_the_cache_and_reparses_only_changed_files(tmp_path):
    root = make_repo(tmp_path / "w")
    new_index(root).build()
    (root / "pkg" / "shapes.py").write_text("def area(w, h):\n    return w * h\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n")
    index = new_index(root)
    report = index.build()
    assert (report.parsed, report.from_cache) == (1, 3)
    assert index.files_defining("perimeter") == [str(root / "pkg" / "shapes.py")]


def test_progress_is_reported_and_cancel_stops_the_build(tmp_path):
    root = make_repo(tmp_path / "w")
    seen = []
    cancel = threading.Event()

    def on_progress(done, total):
        seen.append((done, total))
        cancel.set()

    report = new_index(root, cache=False).build(on_progress, cancel)
    assert report.cancelled and seen[0] == (0, 4)
    assert seen[-1][0] < 4


def test_a_request_can_wait_for_the_build_in_progress(tmp_path):
    root = make_repo(tmp_path / "w")
    index = new_index(root, cache=False)
    assert index.wait_for_build(10)  # no build running: at once
    started, release = threading.Event(), threading.Event()

    def slow_progress(done, total):
        started.set()
        release.wait(5)

    builder = threading.Thread(target=index.build, args=(slow_progress,))
    builder.start()
    assert started.wait(5)
    assert not index.wait_for_build(0.05)  # still building when the grace is over
    release.set()
    assert index.wait_for_build(60)
    builder.join()
    assert index.files_defining("area")


def test_the_wait_ends_the_grace_after_the_build_started(tmp_path, monkeypatch):
    index = new_index(make_repo(tmp_path / "w"), cache=False)
    timeouts = []

    class Building:
        def wait(self, timeout):
            timeouts.append(timeout)
            return False

    monkeypatch.setattr(index, "_not_building", Building())
    index._build_started = time.monotonic() - 100  # indexing for 100 s: a request does not wait
    index.wait_for_build(10)
    index._build_started = time.monotonic() - 4  # for 4 s: it waits what is left of the 10
    index.wait_for_build(10)
    assert timeouts[0] == 0 and 5 < timeouts[1] <= 6


def test_queries_work_on_a_partial_index_and_files_can_be_added_on_demand(tmp_path):
    root = make_repo(tmp_path / "w")
    index = new_index(root, cache=False)
    shapes = root / "pkg" / "shapes.py"
    assert index.facts(shapes) is None and index.importers_of(shapes) == []
    index.ensure_indexed([shapes])
    assert index.files_defining("area") == [str(shapes)]


def test_editor_text_wins_and_is_reparsed_incrementally(tmp_path, monkeypatch):
    root = make_repo(tmp_path / "w")
    index = new_index(root, cache=False)
    index.build()
    main = root / "pkg" / "main.py"
    index.update_text(main, main.read_text())
    reparsed = []
    original = editing.parse_tree
    monkeypatch.setattr(editing, "parse_tree", lambda data, old=None: reparsed.append(old) or original(data, old))
    index.update_text(main, main.read_text() + "\ndef added(:\n")  # a syntax error mid-edit
    assert reparsed and reparsed[0] is not None, "the old tree must be reused"
    facts = index.facts(main)
    assert facts.has_errors and facts.find("run") is not None
    index.refresh(main)  # the disk copy must not replace the open document
    assert index.facts(main).has_errors
    assert str(main) in index.edited_recently()


def test_bad_files_are_skipped_once_with_a_reason_and_the_rest_indexed(tmp_path, caplog):
    root = make_repo(tmp_path / "w")
    (root / "latin1.py").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    (root / "blob.py").write_bytes(b"\x00\x01binary")
    index = new_index(root, cache=False)
    with caplog.at_level("INFO", logger="lsp_server.index.workspace"):
        report = index.build()
        index.build()
    assert report.skipped == {str(root / "latin1.py"): "not UTF-8", str(root / "blob.py"): "binary"}
    assert sum("latin1.py" in r.getMessage() for r in caplog.records) == 1
    assert index.facts(root / "pkg" / "shapes.py") is not None


def test_a_file_deleted_while_indexing_is_dropped(tmp_path):
    root = make_repo(tmp_path / "w")
    index = new_index(root, cache=False)
    doomed = root / "pkg" / "main.py"

    def delete_once(done, total):
        if doomed.exists():
            doomed.unlink()

    report = index.build(delete_once)
    assert str(doomed) in report.skipped and index.facts(doomed) is None
    index.refresh(doomed)
    assert index.facts(doomed) is None


def test_removed_files_leave_no_trace(tmp_path):
    root = make_repo(tmp_path / "w")
    index = new_index(root, cache=False)
    index.build()
    shapes = root / "pkg" / "shapes.py"
    shapes.unlink()
    index.refresh(shapes)
    assert index.facts(shapes) is None and index.files_defining("area") == []
    assert index.imports_of(root / "pkg" / "main.py") == []


def test_a_rebuild_forgets_files_deleted_meanwhile(tmp_path):
    root = make_repo(tmp_path / "w")
    index = new_index(root)
    index.build()
    (root / "pkg" / "main.py").unlink()
    report = index.build()
    assert index.facts(root / "pkg" / "main.py") is None and report.files == 3


def test_an_open_documents_symbols_come_without_a_parse(tmp_path, monkeypatch):
    from lsp_server.index import workspace

    root = make_repo(tmp_path / "w")
    index = new_index(root)
    path = root / "pkg" / "shapes.py"
    text = "def area(w, h):\n    return w * h\n\ndef perimeter(w, h):\n    return 2 * (w + h)\n"
    index.update_text(path, text)
    monkeypatch.setattr(workspace, "parse_python", lambda text: (_ for _ in ()).throw(AssertionError("parsed again")))
    parsed = index.parsed_document(path, text)
    assert [d.qualname for d in parsed.definitions] == ["area", "perimeter"]
    assert parsed.text_of(parsed.find("perimeter")).startswith("def perimeter")
    monkeypatch.undo()
    assert [d.qualname for d in index.parsed_document(path, text + "\ndef more():\n    pass\n").definitions] == ["area", "perimeter", "more"]
