"""Real VS Code (code-server 4.139.1 = VS Code 1.139.1) in headless Chromium with the packaged .vsix.

The .vsix is built and packaged here (npm run package), installed into code-server with the
driver extension (vscode_driver/), and a headless Chromium opens the workspace so the extension
host starts. The driver calls the extension's commands and VS Code's code action provider and
writes what it saw to a file, checked below. Needs tests/editors/setup_vscode.sh to have run once.

At three moments (an explanation shown, Generate tests' outcome, a verified edit previewed) the
driver waits while this test captures the screen through Chromium's DevTools protocol
(cdp_capture.mjs): a PNG kept under tests/editors/artifacts/vscode/ (or $GEMMA_LSP_ARTIFACTS) for
CI to keep, and the text each frame shows, checked for what a user must see.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.editors.conftest import PYTHON, REPO, copy_workspace, server_env

HERE = Path(__file__).parent
EXTENSION = REPO / "editors" / "vscode"
CACHE = Path(os.environ.get("GEMMA_LSP_CI_CACHE", Path.home() / ".cache" / "gemma-lsp-ci"))
READY = CACHE / "vscode-ready"
MAX_TOKENS = 24
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1600,1000",
    "--remote-allow-origins=*",
]
ARTIFACTS = Path(os.environ.get("GEMMA_LSP_ARTIFACTS", HERE / "artifacts")) / "vscode"
SCREENS = {  # each screen is captured again (up to SCREEN_SECONDS) until it shows what it is for
    "explain": lambda frames: any(h["text"].startswith("Explanation of") for f in frames for h in f.get("headings", [])),
    "generate_tests": lambda frames: any(f.get("toasts") for f in frames) or "(proposed)" in all_text(frames),
    "implement": lambda frames: any(f.get("toasts") for f in frames) or "(proposed)" in all_text(frames),
}
SCREEN_SECONDS = 15
USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "workbench.enableExperiments": False,
    "security.workspace.trust.enabled": False,
    "workbench.secondarySideBar.defaultVisibility": "hidden",  # the chat view: room for the code and results
    "chat.disableAIFeatures": True,
}


def installed() -> dict[str, str]:
    if not READY.exists():
        pytest.skip(f"VS Code test environment not installed: run tests/editors/setup_vscode.sh (it writes {READY})")
    return dict(line.split("=", 1) for line in READY.read_text().splitlines() if "=" in line)


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def package(folder: Path, out: Path, *extra: str) -> Path:
    vsce = EXTENSION / "node_modules" / ".bin" / "vsce"
    run([str(vsce), "package", "--no-dependencies", "--skip-license", "--allow-missing-repository", "--out", str(out), *extra], cwd=folder)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            assert time.monotonic() < deadline, f"code-server did not answer at {url}"
            time.sleep(0.3)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict:
    tools = installed()
    root = tmp_path_factory.mktemp("vscode")
    node_bin = str(Path(tools["node"]).parent)

    run(["npm", "run", "package"], cwd=EXTENSION)
    vsix = EXTENSION / "gemma-lsp.vsix"
    driver = package(HERE / "vscode_driver", root / "driver.vsix")

    data, extensions = root / "data", root / "extensions"
    (data / "User").mkdir(parents=True)
    (data / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS))
    # The interpreter is machine-scoped (a repository's workspace settings cannot pick it); a
    # code-server window is a remote one, which reads machine settings from data/Machine.
    (data / "Machine").mkdir()
    (data / "Machine" / "settings.json").write_text(json.dumps({"gemmaLsp.pythonPath": PYTHON}))
    results = root / "results.json"
    env = server_env(root, PATH=node_bin + os.pathsep + os.environ["PATH"], GEMMA_DRIVER_RESULTS=str(results), GEMMA_DRIVER_SHOTS="1")
    base = [tools["code_server"], "--user-data-dir", str(data), "--extensions-dir", str(extensions)]
    for extension in (vsix, driver):
        run(base + ["--install-extension", str(extension)], env=env)

    workspace = copy_workspace(root)
    (workspace / ".vscode").mkdir()
    (workspace / ".vscode" / "settings.json").write_text(json.dumps({
        "gemmaLsp.model.nCtx": 2048,
        "gemmaLsp.model.maxTokens": MAX_TOKENS,
        "gemmaLsp.model.temperature": 0,
        "gemmaLsp.trace.server": os.environ.get("GEMMA_LSP_TRACE", "off"),
    }))
    port, devtools = free_port(), free_port()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    trace = ["--log", "trace"] if os.environ.get("GEMMA_LSP_TRACE", "off") != "off" else []
    logs = root / "logs"
    logs.mkdir()
    code_server = subprocess.Popen(
        base + ["--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
                "--disable-update-check", "--disable-workspace-trust", *trace, str(workspace)],
        env=env, stdout=(logs / "code-server.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    browser = None
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        browser = subprocess.Popen(
            [tools["chromium"], *CHROMIUM_FLAGS, f"--user-data-dir={root / 'chromium'}", f"--remote-debugging-port={devtools}",
             f"http://127.0.0.1:{port}/?folder={workspace}"],
            env=env, stdout=(logs / "chromium.log").open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        capture = Capture(tools["node"], devtools, results)
        recorded = wait_results(results, code_server, timeout=900, on_shot=capture)
        recorded["screens"] = capture.screens
        if results.exists():
            shutil.copy(results, ARTIFACTS / "results.json")  # what the driver saw, beside the screens
    finally:
        for process in (browser, code_server):
            if process is not None:
                stop(process)
    assert recorded.get("ok"), (
        f"driver failed after steps {recorded.get('steps')}: {recorded.get('error')}\n"
        f"code-server log: {(logs / 'code-server.log').read_text()[-3000:]}\n{json.dumps(recorded)[-3000:]}"
    )
    recorded["vsix"] = str(vsix)
    return recorded


def all_text(frames: list[dict]) -> str:
    return "\n".join(f.get("text", "") for f in frames)


class Capture:
    """Takes the screens the driver asks for (its ``shot``), then lets it go on."""

    def __init__(self, node: str, port: int, results: Path) -> None:
        self.node, self.port, self.results = node, port, results
        self.screens: dict[str, dict] = {}

    def __call__(self, name: str) -> None:
        if name in self.screens:
            return
        png, seen = ARTIFACTS / f"{name}.png", ARTIFACTS / f"{name}.json"
        deadline = time.monotonic() + SCREEN_SECONDS
        while True:
            done = subprocess.run([self.node, str(HERE / "cdp_capture.mjs"), str(self.port), str(png), str(seen)],
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, f"screen capture failed: {done.stderr[-2000:]}"
            frames = json.loads(seen.read_text())["frames"]
            if SCREENS[name](frames) or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.screens[name] = {"png": str(png), "frames": frames}
        Path(f"{self.results}.shot-{name}").write_text("taken")


def wait_results(results: Path, code_server: subprocess.Popen, timeout: float, on_shot=None) -> dict:
    deadline = time.monotonic() + timeout
    recorded: dict = {}
    while time.monotonic() < deadline and code_server.poll() is None:
        if results.exists():
            try:
                recorded = json.loads(results.read_text())
            except json.JSONDecodeError:  # being written
                pass
            if recorded.get("done"):
                return recorded
            if recorded.get("shot") and on_shot is not None:
                on_shot(recorded["shot"])
        time.sleep(0.5)
    recorded.setdefault("error", "the driver did not finish in time (did the extension host start?)")
    return recorded


@pytest.mark.editors
def test_vsix_is_packaged_and_installed(session):
    assert Path(session["vsix"]).stat().st_size > 10_000
    assert session["activated"]["version"] == json.loads((EXTENSION / "package.json").read_text())["version"]
    assert session["activated"]["status"].startswith("$(hubot) Gemma:")


@pytest.mark.editors
def test_light_bulb_lists_the_servers_actions(session):
    titles = session["code_actions"]["titles"]
    assert "Gemma: Explain Cart.total" in titles and "Gemma: Explain Cart.total as a comment" in titles


@pytest.mark.editors
def test_explain_streams_into_the_panel_and_status_bar(session):
    explain = session["explain"]
    stream = explain["stream"]
    assert "Cart.total" in stream["title"] and stream["done"] and stream["outcome"] == "done"
    assert "total" in stream["text"] and "total" in stream["rendered"], "the webview shows the streamed answer"
    if "`" in stream["text"]:  # Markdown in the answer is rendered, never shown raw
        assert "<code>" in stream["renderedHtml"] and "`" not in stream["rendered"]
    working = [s for s in explain["status_samples"] if s.startswith("$(loading~spin) Gemma:")]
    assert working, explain["status_samples"]
    # One place, in the server's words: the request's title and its stage, never a guess of ours.
    assert not any("waiting for the model" in s for s in working), working
    assert any(re.search(r"reading the prompt: \d+ of \d+ tokens|writing the answer", s) for s in working), working
    assert explain["status_after"].startswith("$(hubot) Gemma:")


def preview_tabs(tabs: list[dict], document: str) -> list[dict]:
    """The Markdown preview tabs of ``document``."""
    return [t for t in tabs if "markdown.preview" in t["kind"] and Path(document).name in t["label"]]


@pytest.mark.editors
def test_explanation_document_honours_settings_and_show_context_opens_it(session):
    document = session["explain"]["document"]
    assert preview_tabs(session["explain"]["tabs"], document), f"the explanation is shown rendered: {session['explain']['tabs']}"
    assert not any(t["kind"] == "text" and t["uri"] and t["uri"].endswith(".md") for t in session["explain"]["tabs"]), "never as raw Markdown"
    markdown = Path(document).read_text()
    assert "# Explanation of `Cart.total`" in markdown
    generated = int(re.search(r"(\d+) generated", markdown).group(1))
    assert 0 < generated <= MAX_TOKENS, "gemmaLsp.model.maxTokens from the workspace settings reached the server"
    assert any(t["active"] for t in preview_tabs(session["show_context"]["tabs"], document)), session["show_context"]["tabs"]


@pytest.mark.editors
def test_changed_setting_reaches_the_running_server(session):
    markdown = Path(session["settings_change"]["document"]).read_text()
    assert "# Explanation of `count_items`" in markdown
    assert 0 < int(re.search(r"(\d+) generated", markdown).group(1)) <= 6


def check_comment_edit(before: str, after: str) -> None:
    ast.parse(after)
    old, new = before.splitlines(), after.splitlines()
    definition = new.index("def count_items(cart):")
    added = len(new) - len(old)
    assert added > 0 and all(line.startswith("# ") for line in new[definition - added : definition])
    assert new[: definition - added] + new[definition:] == old


@pytest.mark.editors
def test_light_bulb_comment_is_resolved_to_an_edit_that_parses(session):
    step = session["resolve_comment"]
    # Only the first action of the refactor.rewrite kind is resolved: the comment, then Refactor.
    assert step["titles"] == ["Gemma: Explain count_items as a comment", "Gemma: Refactor count_items", "Gemma: Change count_items..."]
    assert step["has_edit"] and step["applied"]
    check_comment_edit(step["before"], step["after"])


@pytest.mark.editors
def test_explain_as_comment_command_applies_its_edit(session):
    step = session["command_comment"]
    assert step["result"] is True
    check_comment_edit(step["before"], step["after"])


@pytest.mark.editors
def test_cancel_stops_a_running_explanation(session):
    step = session["cancel"]
    assert step["cancelled"] == 1
    assert step["outcome"] == {"cancelled": True}
    assert step["document_after"] == session["explain"]["document"], "a cancelled request shows no explanation"
    assert step["status_after"].startswith("$(hubot) Gemma:")


@pytest.mark.editors
def test_restart_starts_a_new_server(session):
    assert session["restart"]["new_client"]
    assert "Gemma: Explain Cart.total" in session["restart"]["titles"]


@pytest.mark.editors
def test_status_bar_shows_model_backend_and_context_from_the_server(session):
    server = session["status"]["server"]
    assert server["loaded"] and not server["busy"] and server["n_ctx"] == 2048
    assert server["backend"] in ("cpu", "gpu") and server["context_tokens_last"] > 0
    # One token count, named: the model's count of the last prompt, as the explanation says it.
    expected = f"$(hubot) Gemma: {server['model']} | {server['backend'].upper()} | prompt {server['prompt_tokens_last']} of 2048 tokens"
    assert session["status"]["text"] == expected
    assert f"{server['prompt_tokens_last']} prompt tokens" in Path(session["settings_change"]["document"]).read_text()


def check_preview_shown(step: dict, path: str) -> dict:
    """The diff preview appeared for ``path``: VS Code's diff of the file against the proposal."""
    shown = step["shown"]
    assert shown is not None, f"no preview: {step.get('outcome') or step.get('error')}"
    (tab,) = [t for t in shown["tabs"] if t["modified"].startswith("gemma-proposed:")]
    assert tab["original"].endswith(path) and "(proposed)" in tab["label"]
    assert step["tabs_after"] == [], "the preview closes once answered"
    return shown


def verified_or_failure_shown(step: dict) -> bool:
    """Whether the proposal passed verification; if not, it was not previewed, and its failure
    was shown. The tiny model's answers pass or fail depending on the CPU (a near tie in a greedy
    answer rounds either way): both outcomes are correct."""
    outcome = step["outcome"]
    assert outcome["offered"] is True
    if not outcome["verified"]:
        assert step["shown"] is None and step["after"] == step["before"]
        assert "was not offered: " in outcome["message"] and "not offered" in outcome["title"]
        assert "Show details" in outcome["choices"]
        assert "failed verification and was not offered" in Path(step["last_document"]).read_text()
    return outcome["verified"]


@pytest.mark.editors
def test_implement_previews_the_edit_and_accept_applies_exactly_it(session):
    step = session["implement"]
    assert "raise NotImplementedError" in step["before"]
    if not verified_or_failure_shown(step):
        return
    shown = check_preview_shown(step, "shop/stubs.py")
    assert step["outcome"]["applied"] is True and step["outcome"]["decision"] == "accept"
    assert "Implement clamp" in shown["title"]
    assert step["after"] == shown["proposed_text"] == shown["files"][0]["after"]
    assert step["before"] == shown["files"][0]["before"] and step["after"] != step["before"]
    assert "raise NotImplementedError" not in step["after"]
    ast.parse(step["after"])


@pytest.mark.editors
def test_reject_leaves_the_document_unchanged(session):
    step = session["implement_rejected"]
    if verified_or_failure_shown(step):
        shown = check_preview_shown(step, "shop/stubs.py")
        assert "Implement clamp" in shown["title"] and shown["proposed_text"] != step["before"]
        assert step["outcome"]["decision"] == "reject" and step["outcome"]["applied"] is False
    assert step["after"] == step["before"]


@pytest.mark.editors
def test_generate_tests_is_previewed_or_its_failed_verification_shown(session):
    """The tiny model's tests often fail verification: then nothing changes and the failure is shown."""
    step = session["generate_tests"]
    if verified_or_failure_shown({**step, "before": step["tests_before"], "after": step["tests_after"]}):
        shown = check_preview_shown(step, "tests/test_pricing.py")
        assert step["outcome"]["applied"] is True and step["tests_after"] == shown["proposed_text"]
        assert step["tests_after"].startswith(step["tests_before"])



RAW_MARKDOWN = re.compile(r"^\s*(#{1,6} |\|.*\||```)", re.M)
VERIFIER_WORDS = ("_gemma_probe", "F821", "shape failed", "lint failed", "(no function)")


def screen(session: dict, name: str) -> tuple[dict, list[dict]]:
    shot = session["screens"][name]
    assert Path(shot["png"]).stat().st_size > 10_000, "a real screenshot"
    return shot, shot["frames"]


def check_refusal_shown(frames: list[dict], step: dict) -> None:
    """A refused proposal: a warning in the user's words with what to do, the rendered document."""
    toasts = [t for f in frames for t in f.get("toasts", []) if "was not offered" in t]
    assert toasts, [f.get("toasts") for f in frames]
    reason = step["outcome"]["title"].split("(not offered: ", 1)[1].rstrip(")")
    assert any(reason.replace("`", "")[:40] in t.replace("`", "") for t in toasts), (reason, toasts)
    assert "Show details" in toasts[0] and not any(w in t for t in toasts for w in VERIFIER_WORDS), toasts
    document = [f for f in frames if "What you can do" in f.get("text", "")]
    assert document, "the refusal's document is on the screen, rendered"
    assert any(h["text"] == "What was checked" for h in document[0]["headings"])
    assert not RAW_MARKDOWN.search("\n".join(document[0]["prose"])), document[0]["prose"]


@pytest.mark.editors
def test_screen_explain_shows_the_rendered_answer_first(session):
    _, frames = screen(session, "explain")
    preview = [f for f in frames if any(h["text"] == "Explanation of Cart.total" for h in f.get("headings", []))]
    assert preview, "the heading is rendered (no `#`, no backticks)"
    text = preview[0]["text"]
    assert not RAW_MARKDOWN.search("\n".join(preview[0]["prose"])), preview[0]["prose"]
    answer = session["explain"]["stream"]["rendered"].strip().splitlines()[0][:30]
    assert text.index("Explanation of Cart.total") < text.index(answer) < text.index("Facts read off the code") < text.index("Context sent to the model")
    folded = [d for d in preview[0]["details"] if "context items" in d["summary"]]
    assert folded and not folded[0]["open"], "the context table is folded"
    assert "| item | why |" not in text and "tokens (est.)" not in text, "the table stays folded"


@pytest.mark.editors
def test_screen_generate_tests_shows_its_outcome_in_the_users_words(session):
    step = session["generate_tests"]
    _, frames = screen(session, "generate_tests")
    if step["outcome"]["verified"]:
        assert "(proposed)" in all_text(frames)
        return
    check_refusal_shown(frames, step)
    assert step["stream"]["outcome"] == "rejected" and step["stream"]["message"] in step["outcome"]["title"]


@pytest.mark.editors
def test_screen_a_verified_edit_is_previewed_as_a_diff(session):
    step = session["implement"]
    _, frames = screen(session, "implement")
    if not step["outcome"]["verified"]:  # the tiny model's answer failed: then its refusal is what shows
        check_refusal_shown(frames, step)
        return
    text = all_text(frames)
    assert "stubs.py (proposed)" in text or "(proposed)" in text, "the diff of the file against the proposal"
    assert "clamp" in text


def test_change_is_previewed_or_its_failed_verification_shown(session):
    """Gemma: Change... with an instruction on the real (tiny) model: a verified proposal is shown
    as a diff of each file it touches before anything is written; a refused one changes nothing."""
    step = session["change"]
    assert "error" not in step, step
    outcome = step["outcome"]
    assert outcome["offered"], outcome
    if outcome.get("verified"):
        assert step["shown"] and step["shown"]["files"], step
        assert outcome["applied"] and step["after"] != step["before"]
    else:
        assert "was not offered" in outcome["message"] and step["after"] == step["before"], outcome
        assert step["stream"].get("outcome") == "rejected", step["stream"]
