"""Which files are secret: default patterns, the project file, and files gitignored as secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lsp_server.privacy.secrets import PROJECT_FILE, SecretFileRefused, is_secret, refuse_if_secret, root_of, without_secrets


def write(root: Path, relative: str, text: str = "x = 1\n") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "relative",
    [".env", ".env.local", "deploy/.env.production", "key.pem", "certs/server.key", "id_rsa", "home/id_rsa.pub",
     "config/secret_token.py", "secrets/db.py", "client_SECRET.json", "store.p12", "KEY.PEM"],
)
def test_default_patterns(tmp_path, relative):
    assert is_secret(write(tmp_path, relative), tmp_path)


@pytest.mark.parametrize("relative", ["app/main.py", "environment.py", "keys.py", "pem_parser.py", "tokenizer.py", "README.md"])
def test_ordinary_files_are_not_secret(tmp_path, relative):
    assert not is_secret(write(tmp_path, relative), tmp_path)


def test_project_file_adds_patterns_and_can_allow_a_default_match(tmp_path):
    write(tmp_path, PROJECT_FILE, "# extra\nconfig/vault/\n*.sqlite\n!.env.example\n")
    assert is_secret(write(tmp_path, "config/vault/store.py"), tmp_path)
    assert is_secret(write(tmp_path, "data/users.sqlite"), tmp_path)
    assert not is_secret(write(tmp_path, ".env.example"), tmp_path)
    assert is_secret(write(tmp_path, ".env"), tmp_path)


def test_project_file_changes_are_picked_up(tmp_path):
    target = write(tmp_path, "settings_prod.py")
    assert not is_secret(target, tmp_path)
    project = write(tmp_path, PROJECT_FILE, "settings_prod.py\n")
    os.utime(project, ns=(1, 1))  # a different mtime than any cached read
    assert is_secret(target, tmp_path)


def test_gitignored_files_named_like_secrets(tmp_path):
    write(tmp_path, ".gitignore", "local_passwords.py\nbuild/\n")
    write(tmp_path, "config/.gitignore", "prod_token.json\n")
    assert is_secret(write(tmp_path, "config/local_passwords.py"), tmp_path)
    assert is_secret(write(tmp_path, "config/prod_token.json"), tmp_path)
    assert not is_secret(write(tmp_path, "build/generated.py"), tmp_path), "ignored, but not named like a secret"
    assert not is_secret(write(tmp_path, "lexer/token.py"), tmp_path), "named like a secret, but tracked"


def test_a_symlink_to_a_secret_is_secret(tmp_path):
    secret = write(tmp_path, ".env", "TOKEN=abc\n")
    link = tmp_path / "settings_link.py"
    link.symlink_to(secret)
    assert is_secret(link, tmp_path)


def test_files_outside_the_root_are_judged_by_name(tmp_path):
    other = tmp_path / "elsewhere"
    assert is_secret(write(other, "id_rsa"), tmp_path / "workspace")
    assert not is_secret(write(other, "code.py"), tmp_path / "workspace")


def test_refusal_says_how_to_allow_the_file(tmp_path):
    with pytest.raises(SecretFileRefused, match=r"!secret_token.py.*\.gemma-lsp-secrets"):
        refuse_if_secret(write(tmp_path, "config/secret_token.py"), [tmp_path])
    refuse_if_secret(write(tmp_path, "config/settings.py"), [tmp_path])


def test_reader_sees_secret_files_as_missing(tmp_path):
    read = without_secrets(lambda path: path.read_text(), [tmp_path])
    assert read(write(tmp_path, "key.pem", "PRIVATE")) is None
    assert read(write(tmp_path, "app.py", "ok")) == "ok"


def test_the_root_of_a_file_as_written_or_through_a_link(tmp_path: Path):
    first, second = tmp_path / "one", tmp_path / "two"
    inside = write(second, "pkg/m.py")
    (tmp_path / "link").symlink_to(second)
    assert root_of(inside, [first, second]) == second
    assert root_of(tmp_path / "link" / "pkg" / "m.py", [first, second]) == second, "the link leads into the second root"
    assert root_of(inside, [tmp_path / "link"]) == tmp_path / "link", "the root is the link"
    outside = write(tmp_path, "other/n.py")
    assert root_of(outside, [first, second]) == outside.parent
