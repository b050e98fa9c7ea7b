"""Change... with scripted answers: multi-file proposals parsed, applied, repaired and verified
in the shadow copy (the tests really run, in the jail)."""

from pathlib import Path

import pytest

from lsp_server.actions import change, change_prompt
from lsp_server.config import IndexSettings, Settings, VerifySettings
from lsp_server.assistant import Assistant
from lsp_server.context.build import read_file
from lsp_server.privacy.secrets import without_secrets
from lsp_server.model.backend import CancelToken
from lsp_server.pipeline import change as change_pipeline
from lsp_server.pipeline.run import Ask, Watch, pack
from tests.fake_backend import FakeBackend, model_info

VERIFY = VerifySettings(timeout_seconds=60)
PROJECT = {
    "app/__init__.py": "",
    "app/config.py": 'REDIS_URL = "redis://localhost:6379/0"\nSESSION_SECONDS = 3600\n',
    "app/store.py": "class Store:\n    def __init__(self):\n        self.data = {}\n\n    def get(self, key):\n        return self.data.get(key)\n",
    "app/auth.py": (
        "from app import config\n\n\ndef login(user, password):\n    if not user or not password:\n        return None\n"
        "    return f\"{user}:{config.SESSION_SECONDS}\"\n\n\ndef refresh(token):\n    return token + \"+\"\n"
    ),
    "tests/test_auth.py": "from app.auth import login, refresh\n\n\ndef test_login():\n    assert login('ann', 'pw') == 'ann:3600'\n\n\ndef test_refresh():\n    assert refresh('t') == 't+'\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in PROJECT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def assistant_for(root: Path, backend: FakeBackend | None = None) -> Assistant:
    assistant = Assistant(Settings(index=IndexSettings(cache=False), verify=VERIFY), backend_factory=lambda settings: backend or FakeBackend())
    assistant.index_for([root]).build()
    return assistant


def ask(root: Path, line: int = 4, file: str = "app/auth.py") -> Ask:
    path = root / file
    return Ask(path, path.read_text(), (line, 0), (line, 0), [root])


def context(root: Path, instruction: str, line: int = 4):
    return pack(assistant_for(root), ask(root, line), instruction)


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


def test_the_instruction_names_the_redis_configuration_and_the_manifest_says_so(project):
    packed = context(project, "Add rate limiting to login. Use the existing Redis configuration.")
    named = [row for row in packed.manifest if "named in the instruction" in row["reason"]]
    assert any(row["symbol"] == "REDIS_URL" and "'redis'" in row["reason"] for row in named)
    assert any("REDIS_URL" in item.text for item in packed.items)


def test_a_new_function_in_one_module_used_from_another_gets_its_import(project):
    packed = context(project, "normalize the user name in login with a helper in the store module")
    answer = (block("app/store.py", "class Store:\n", "def normalize(name):\n    return name.strip().lower()\n\n\nclass Store:\n")
              + block("app/auth.py", "    return f\"{user}:{config.SESSION_SECONDS}\"\n", "    return f\"{normalize(user)}:{config.SESSION_SECONDS}\"\n"))
    proposal = change.propose(packed, "normalize", answer, "search_replace", project, VERIFY)
    assert proposal.ok, proposal.verification.summary()
    auth = next(f for f in proposal.files if f.path.name == "auth.py")
    assert "from app.store import normalize" in auth.new_text
    assert "added `from app.store import normalize` to app/auth.py" in proposal.verification.summary()
    assert "2 tests passed before and after" in proposal.verification.summary()


def test_a_new_config_key_read_in_two_places(project):
    packed = context(project, "cap the attempts with a MAX_ATTEMPTS setting in login and refresh")
    answer = (
        "### File: app/config.py\n```python\nMAX_ATTEMPTS = 3\n```\n"
        "### File: app/auth.py\n```python\ndef login(user, password, attempts=0):\n    if attempts > config.MAX_ATTEMPTS or not user or not password:\n"
        "        return None\n    return f\"{user}:{config.SESSION_SECONDS}\"\n\n\ndef refresh(token, attempts=0):\n"
        "    if attempts > config.MAX_ATTEMPTS:\n        return None\n    return token + \"+\"\n```\n"
    )
    proposal = change.propose(packed, "cap attempts", answer, "symbols", project, VERIFY)
    assert proposal.ok, proposal.verification.summary()
    triples = {p.name: (old, new, create) for p, old, new, create in change.edit_triples(proposal)}
    assert set(triples) == {"config.py", "auth.py"}
    assert triples["config.py"][1].endswith("MAX_ATTEMPTS = 3\n") and triples["config.py"][0] == PROJECT["app/config.py"]
    assert triples["auth.py"][1].count("config.MAX_ATTEMPTS") == 2 and not triples["auth.py"][2]


def test_a_new_test_file_must_pass(project):
    packed = context(project, "test refresh")
    good = block("tests/test_refresh.py", "", "from app.auth import refresh\n\n\ndef test_refresh_twice():\n    assert refresh(refresh('a')) == 'a++'\n")
    proposal = change.propose(packed, "test refresh", good, "search_replace", project, VERIFY)
    assert proposal.ok, proposal.verification.summary()
    assert [(f.path.name, f.create, f.old_text) for f in proposal.files] == [("test_refresh.py", True, "")]
    assert "tests/test_refresh.py::test_refresh_twice now passes" in proposal.verification.summary()
    assert proposal.diff(project).startswith("--- /dev/null\n+++ b/tests/test_refresh.py\n")

    bad = good.replace("'a++'", "'a+'")
    refused = change.propose(packed, "test refresh", bad, "search_replace", project, VERIFY)
    assert not refused.ok
    words = change.refusal(refused, project)
    assert words.tried == "Change `test refresh`" and "the test still fails" in words.reason


def test_a_change_breaking_a_passing_test_is_refused_in_the_users_words(project):
    packed = context(project, "refresh appends two pluses")
    answer = block("app/auth.py", "    return token + \"+\"\n", "    return token + \"++\"\n")
    proposal = change.propose(packed, "refresh appends two pluses", answer, "search_replace", project, VERIFY)
    assert not proposal.ok
    assert change.refusal(proposal, project).reason == "1 of the tests that passed before now fail: test_refresh"


def test_an_answer_without_edits_is_refused_with_the_format_named(project):
    packed = context(project, "anything")
    proposal = change.propose(packed, "anything", "Sure! I would add a limiter.", "search_replace", project, VERIFY)
    assert not proposal.ok and proposal.files == []
    assert change.refusal(proposal, project).reason == "the model's answer held no edit in the search/replace format"


def test_a_follow_up_refines_the_last_proposal(project):
    packed = context(project, "add MAX_ATTEMPTS")
    first = change.propose(packed, "add MAX_ATTEMPTS", block("app/config.py", "SESSION_SECONDS = 3600\n", "SESSION_SECONDS = 3600\nMAX_ATTEMPTS = 3\n"),
                           "search_replace", project, VERIFY)
    assert first.ok, first.verification.summary()
    request = change.followup(first, "also add LOCKOUT_SECONDS", "completion", 256, 0.0)
    assert "### Change so far\n(instruction: add MAX_ATTEMPTS)\n# app/config.py (as changed)\n" in request.text
    assert request.text.rstrip().endswith("### Instruction\nalso add LOCKOUT_SECONDS\n### Edits")
    second = change.propose(packed, "also add LOCKOUT_SECONDS", block("app/config.py", "MAX_ATTEMPTS = 3\n", "MAX_ATTEMPTS = 3\nLOCKOUT_SECONDS = 60\n"),
                            "search_replace", project, VERIFY, previous=first)
    assert second.ok and second.instruction == "add MAX_ATTEMPTS; also add LOCKOUT_SECONDS"
    (edit,) = second.files
    assert edit.old_text == PROJECT["app/config.py"] and edit.new_text.endswith("MAX_ATTEMPTS = 3\nLOCKOUT_SECONDS = 60\n")


def test_requests_show_the_format_and_start_the_answer_in_the_target_file(project):
    packed = context(project, "limit login")
    completion = change_prompt.build_request(packed, "limit login", "completion", 256, 0.0, "search_replace")
    assert "<<<<<<< SEARCH" in completion.text and completion.text.endswith("### Instruction\nlimit login\n### Edits\n")
    assert completion.answer_prefix == "app/auth.py\n```python\n<<<<<<< SEARCH\n" and "### End" in completion.stop
    assert completion.max_tokens >= change_prompt.MIN_ANSWER_TOKENS
    chat = change_prompt.build_request(packed, "limit login", "chat", 256, 0.0, "diff")
    assert "unified diff" in chat.messages[0].content and chat.messages[1].content.endswith("Instruction: limit login")


def test_the_pipeline_goes_from_request_to_verified_proposal(project):
    answer = "    return token.strip() + \"+\"\n>>>>>>> REPLACE\n```\n"
    # The completion prompt starts the answer; the fake gives back only what it was scripted to.
    prefix = "app/auth.py\n```python\n<<<<<<< SEARCH\n    return token + \"+\"\n=======\n"
    backend = FakeBackend((prefix + answer,), info=model_info("completion"))
    assistant = assistant_for(project, backend)
    prepared = change_pipeline.prepare(assistant, ask(project, 10), "refresh strips the token", fmt="search_replace")
    stages: list[str] = []
    result = change_pipeline.run(assistant, prepared, Watch(on_stage=stages.append), CancelToken())
    proposal = result.proposal
    assert proposal.ok and result.refused is None, proposal.verification.summary()
    assert any(stage.startswith("verifying: running") for stage in stages), stages
    assert backend.requests[0].answer_prefix.startswith("app/auth.py")


def test_a_changed_setting_runs_the_tests_of_the_modules_reading_it(project):
    edit = change.FileEdit(project / "app/config.py", PROJECT["app/config.py"], PROJECT["app/config.py"] + "X = 1\n", False)
    assert change.tests_for([edit], project) == (["tests/test_auth.py"], ())


def test_a_secret_file_is_never_edited_nor_created_over(project):
    """A secret file reads as missing (it never enters a prompt): an answer editing it would look
    like a new file, created over the real one. It is refused, and the file is untouched."""
    (project / ".env").write_text("REDIS_PASSWORD=hunter2\n")
    (project / "app" / "secrets.py").write_text("API_KEY = 'k-123'\n")
    packed = context(project, "log each login")
    read = without_secrets(read_file, [project])
    answer = block("app/secrets.py", "", "API_KEY = 'leaked'\n")
    proposal = change.propose(packed, "log each login", answer, "search_replace", project, VERIFY, read_text=read)
    assert not proposal.ok and "app/secrets.py, a file gemma-lsp does not read" in proposal.verification.summary()
    assert (project / "app" / "secrets.py").read_text() == "API_KEY = 'k-123'\n"
