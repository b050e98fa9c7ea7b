import os
from pathlib import Path

from lsp_server.index.discovery import discover


def names(found, root: Path) -> list[str]:
    return [f.path.relative_to(root).as_posix() for f in found]


def write(root: Path, relative: str, text: str = "x = 1\n") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_gitignore_nested_gitignore_and_extra_excludes_are_honoured(tmp_path):
    write(tmp_path, ".gitignore", "build/\n*_pb2.py\n")
    write(tmp_path, "pkg/.gitignore", "generated.py\n")
    for name in ["a.py", "build/b.py", "pkg/c.py", "pkg/generated.py", "msg_pb2.py", "vendor/d.py", "notes.txt", ".git/e.py",
                 "pkg/__pycache__/f.py"]:
        write(tmp_path, name)
    found, skipped = discover([tmp_path], excludes=["vendor/"])
    assert names(found, tmp_path) == ["a.py", "pkg/c.py"]
    assert skipped == []


def test_huge_files_are_skipped_with_a_reason(tmp_path):
    write(tmp_path, "small.py")
    huge = tmp_path / "huge.py"
    with open(huge, "wb") as handle:  # sparse: 50 MB on paper, nothing on disk
        handle.truncate(50 * 1024 * 1024)
    found, skipped = discover([tmp_path], max_bytes=1_000_000)
    assert names(found, tmp_path) == ["small.py"]
    assert [(s.path.name, s.reason) for s in skipped] == [("huge.py", "larger than 1000000 bytes")]


def test_the_exclude_path_hook_keeps_files_out(tmp_path):
    write(tmp_path, "app.py")
    write(tmp_path, "secrets_config.py")
    found, skipped = discover([tmp_path], exclude_path=lambda p: p.name.startswith("secrets"))
    assert names(found, tmp_path) == ["app.py"]
    assert [(s.path.name, s.reason) for s in skipped] == [("secrets_config.py", "excluded by policy")]


def test_symlink_loops_and_broken_links_do_not_trap_the_walk(tmp_path):
    write(tmp_path, "pkg/mod.py")
    os.symlink(tmp_path / "pkg", tmp_path / "pkg" / "loop")
    os.symlink(tmp_path / "missing.py", tmp_path / "broken.py")
    found, _ = discover([tmp_path])
    assert names(found, tmp_path) == ["pkg/mod.py"]


def test_an_empty_or_missing_workspace_yields_nothing(tmp_path):
    assert discover([tmp_path]) == ([], [])
    assert discover([tmp_path / "absent"]) == ([], [])


def test_examine_applies_the_same_rules_to_one_file(tmp_path):
    from lsp_server.index.discovery import FoundFile, Skipped, examine

    write(tmp_path, ".gitignore", "build/\n")
    kept, ignored = write(tmp_path, "pkg/a.py"), write(tmp_path, "build/b.py")
    big = write(tmp_path, "big.py", "x = 1\n" * 100)
    assert isinstance(examine(kept, [tmp_path]), FoundFile)
    assert examine(ignored, [tmp_path]) is None
    assert examine(tmp_path.parent / "outside.py", [tmp_path]) is None
    assert isinstance(examine(big, [tmp_path], max_bytes=100), Skipped)
    assert examine(write(tmp_path, "pkg/__pycache__/c.py"), [tmp_path]) is None  # as discover: never walked
