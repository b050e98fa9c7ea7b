from pathlib import Path

import git
import pytest

from lsp_server.index.git_facts import GitFacts, range_history


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repository = git.Repo.init(tmp_path)
    with repository.config_writer() as config:
        config.set_value("user", "name", "Ada")
        config.set_value("user", "email", "ada@example.invalid")
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    (tmp_path / "b.py").write_text("x = 1\n")
    repository.index.add(["a.py", "b.py"])
    repository.index.commit("first")
    (tmp_path / "a.py").write_text("def f():\n    return 2\n")
    repository.index.add(["a.py"])
    repository.index.commit("change f")
    return tmp_path


def test_uncommitted_and_recent_files(repo: Path):
    (repo / "b.py").write_text("x = 2\n")
    (repo / "new.py").write_text("y = 1\n")
    facts = GitFacts.open(repo)
    assert facts.uncommitted() == {repo / "b.py", repo / "new.py"}
    assert facts.recently_changed() == {repo / "a.py": 0, repo / "b.py": 1}


def test_history_of_a_line_range_names_commits_and_authors(repo: Path):
    commits = GitFacts.open(repo).history(repo / "a.py", 2, 2)
    assert [(c.author, c.summary) for c in commits] == [("Ada", "change f"), ("Ada", "first")]


def test_range_history_describes_each_commit_on_one_line(repo: Path, tmp_path_factory):
    facts = GitFacts.open(repo)
    lines = range_history(facts, repo / "a.py", 1, 1, limit=1)  # 0-based: the line "return 2"
    assert len(lines) == 1 and lines[0].endswith(f"Ada: change f ({facts.history(repo / 'a.py', 2, 2)[0].sha[:8]})")
    assert lines[0][:4].isdigit()  # the date first
    outside = tmp_path_factory.mktemp("elsewhere") / "c.py"
    assert range_history(facts, outside, 0, 0, limit=3) == [] and range_history(None, repo / "a.py", 0, 0, limit=3) == []


def test_a_folder_without_git_has_no_facts(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert GitFacts.open(tmp_path) is None
