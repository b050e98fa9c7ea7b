"""Reading Change answers in each format, near-misses repaired, and applying them to text."""

from pathlib import Path

from lsp_server.actions.change_apply import apply_edits, merge_code, replace_text
from lsp_server.actions.change_format import Edit, parse_answer

ROOT = Path("/ws")
AUTH = Path("/ws/app/auth.py")
CONFIG = Path("/ws/app/config.py")
FILES = {
    AUTH: "from app import config\n\n\ndef login(user):\n    return user\n\n\ndef refresh(token):\n    return token\n",
    CONFIG: "REDIS_URL = 'redis://localhost'\n",
}


def read(path: Path):
    return FILES.get(path)


def apply(answer: str, fmt: str):
    parsed = parse_answer(answer, fmt)
    return parsed, apply_edits(parsed.edits, ROOT, AUTH, [CONFIG], read)


def test_search_replace_blocks_for_two_files_and_a_new_one():
    answer = (
        "app/config.py\n```python\n<<<<<<< SEARCH\nREDIS_URL = 'redis://localhost'\n=======\nREDIS_URL = 'redis://localhost'\nLOGIN_LIMIT = 5\n>>>>>>> REPLACE\n```\n"
        "app/auth.py\n```python\n<<<<<<< SEARCH\ndef login(user):\n    return user\n=======\ndef login(user):\n    return (user, config.LOGIN_LIMIT)\n>>>>>>> REPLACE\n```\n"
        "tests/test_limit.py\n```python\n<<<<<<< SEARCH\n=======\ndef test_limit():\n    assert True\n>>>>>>> REPLACE\n```\n"
    )
    parsed, applied = apply(answer, "search_replace")
    assert parsed.repairs == [] and len(parsed.edits) == 3
    assert applied.problems == []
    assert "LOGIN_LIMIT = 5" in applied.texts[CONFIG]
    assert "return (user, config.LOGIN_LIMIT)" in applied.texts[AUTH] and "def refresh(token)" in applied.texts[AUTH]
    assert applied.created == {Path("/ws/tests/test_limit.py")}


def test_search_replace_near_misses_are_repaired_and_said():
    # no path line (one file in play), short markers, no closing REPLACE marker, indentation off
    answer = "```py\n<<<<<< SEARCH\n  return token\n=======\n  return token.strip()\n```\n"
    parsed, applied = apply(answer, "search_replace")
    assert applied.problems == []
    assert "    return token.strip()\n" in applied.texts[AUTH]
    said = " ".join(parsed.repairs + applied.repairs)
    assert "marker written" in said and "missing >>>>>>> REPLACE" in said and "no path line" in said and "indentation" in said


def test_trailing_whitespace_in_search_text_is_forgiven():
    new, problem = replace_text("a = 1\nb = 2\n", "a = 1   \nb = 2\n", "a = 1\nb = 3\n", repairs := [])
    assert problem == "" and new == "a = 1\nb = 3\n" and "trailing whitespace" in repairs[0]


def test_a_search_text_not_in_the_file_is_a_problem_in_words():
    parsed, applied = apply("app/auth.py\n<<<<<<< SEARCH\ndef logout():\n=======\ndef logout(): pass\n>>>>>>> REPLACE\n", "search_replace")
    assert applied.problems == ["app/auth.py: the SEARCH text is not in the file (it starts `def logout():`)"]


def test_whole_symbols_replace_the_definition_and_add_new_ones():
    answer = (
        "### File: app/auth.py\n```python\nimport time\n\n\ndef refresh(token):\n    return token.upper()\n\n\ndef logout(user):\n    return None\n```\n"
        "File: `app/config.py`\n```python\nREFRESH_LIMIT = 10\n```\n"
    )
    parsed, applied = apply(answer, "symbols")
    auth = applied.texts[AUTH]
    assert auth.startswith("from app import config\nimport time\n")
    assert auth.count("def refresh") == 1 and "token.upper()" in auth
    assert auth.index("def login") < auth.index("def refresh") < auth.index("def logout")
    assert applied.texts[CONFIG] == "REDIS_URL = 'redis://localhost'\nREFRESH_LIMIT = 10\n"
    assert any("path line written" in r for r in parsed.repairs)


def test_whole_symbols_without_a_path_line_or_closing_fence_go_to_the_target():
    parsed, applied = apply("```python\ndef login(user):\n    return user.lower()\n", "symbols")
    assert "user.lower()" in applied.texts[AUTH]
    assert "fence not closed" in parsed.repairs and any("no path line" in r for r in parsed.repairs)


def test_a_method_alone_replaces_the_method_of_its_class():
    text = "class Store:\n    def get(self, key):\n        return None\n\n    def put(self, key, value):\n        pass\n"
    new, _ = merge_code(text, "    def get(self, key):\n        return self.data.get(key)\n", repairs := [])
    assert new == text.replace("return None", "return self.data.get(key)") and "replaces the method" in repairs[0]


def test_code_that_does_not_parse_is_kept_for_the_parse_check():
    new, problem = merge_code("x = 1\n", "def broken(:\n", [])
    assert problem == "" and new.endswith("def broken(:\n") and new.startswith("x = 1\n")


def test_unified_diff_with_loose_headers_and_a_new_file():
    answer = (
        "--- app/auth.py\n+++ app/auth.py\n@@\n def refresh(token):\n-    return token\n+    return token[:10]\n"
        "--- /dev/null\n+++ b/tests/test_refresh.py\n@@ -0,0 +1,2 @@\n+def test_refresh():\n+    assert True\n"
    )
    parsed, applied = apply(answer, "diff")
    assert "hunk header without numbers" in parsed.repairs
    assert "return token[:10]" in applied.texts[AUTH]
    assert applied.texts[Path("/ws/tests/test_refresh.py")] == "def test_refresh():\n    assert True\n"


def test_diff_blank_context_line_without_its_space():
    answer = "--- a/app/auth.py\n+++ b/app/auth.py\n@@ -4,5 +4,5 @@\n def login(user):\n-    return user\n+    return user or None\n\n\n def refresh(token):\n"
    parsed, applied = apply(answer, "diff")
    assert applied.problems == [] and "return user or None" in applied.texts[AUTH]
    assert "blank context line without its space" in parsed.repairs


def test_an_answer_with_no_edit_in_the_format_parses_to_nothing():
    assert not parse_answer("I would add a limiter.", "search_replace").parsed
    assert not parse_answer("I would add a limiter.", "diff").parsed


def test_a_path_outside_the_workspace_is_refused():
    applied = apply_edits([Edit("../../etc/passwd.py", "code", "x = 1\n")], ROOT, AUTH, [], read)
    assert applied.texts == {} and "outside the workspace" in applied.problems[0]


def test_an_empty_search_on_an_existing_file_merges_its_code_instead_of_appending_the_file_again():
    answer = "app/auth.py\n<<<<<<< SEARCH\n=======\n" + FILES[AUTH].replace("return token\n", "return token[::-1]\n") + ">>>>>>> REPLACE\n"
    parsed, applied = apply(answer, "search_replace")
    assert applied.texts[AUTH] == FILES[AUTH].replace("return token\n", "return token[::-1]\n")
    assert "an empty SEARCH for app/auth.py: its code merged by definition" in applied.repairs
