"""The Change... benchmark's harness counts a task solved only when its hidden tests pass:
a right scripted answer solves a task, a verified but wrong one does not."""

from lsp_server.assistant import Assistant
from lsp_server.config import Settings, VerifySettings
from tests.benchmarks.bench_change import run_task
from tests.benchmarks.change_tasks import TASKS
from tests.fake_backend import FakeBackend, model_info

EXISTS = next(t for t in TASKS if t.name == "store_exists")
SEARCH = "    def get(self, key, default=None):\n"


def answer(body: str) -> str:
    return f"desk/store.py\n```python\n<<<<<<< SEARCH\n{SEARCH}=======\n    def exists(self, key):\n        {body}\n\n{SEARCH}>>>>>>> REPLACE\n```\n"


def run(tmp_path, text: str):
    backend = FakeBackend((text,), info=model_info("completion"))
    assistant = Assistant(Settings(verify=VerifySettings(timeout_seconds=60)), backend_factory=lambda _: backend)
    return run_task(assistant, EXISTS, "search_replace", tmp_path)


def test_a_right_answer_solves_the_task(tmp_path):
    row = run(tmp_path, answer("return key in self.values"))
    assert (row.parsed, row.applied, row.verified, row.solved) == (True, True, True, True), row.detail


def test_a_verified_but_wrong_answer_is_not_solved(tmp_path):
    row = run(tmp_path, answer("return False"))
    assert row.verified and not row.solved
