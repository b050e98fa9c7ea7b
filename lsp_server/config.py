"""Typed settings, read from initializationOptions, workspace/configuration and the CLI.

Every field has a docstring: it is the user-facing documentation of the setting. Keys arrive as
snake_case (``n_gpu_layers``) or camelCase (``nGpuLayers``, as VS Code writes them). A bad value
is reported once and replaced by its default; the server keeps serving.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, get_args, get_origin

PromptStyle = Literal["auto", "chat", "completion"]
KvCacheType = Literal["f16", "q8_0", "q4_0"]
SamplerName = Literal["auto", "fast", "gpu-top-k", "llama"]
BackendName = Literal["llama_cpp", "openai"]
ThinkingMode = Literal["off", "auto", "on"]

N = typing.TypeVar("N", int, float)


@dataclass(frozen=True)
class Bounds:
    """The range a number setting must lie in (JSON Schema's words, which VS Code's settings use)."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None

    def contains(self, value: float) -> bool:
        return ((self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)
                and (self.exclusive_minimum is None or value > self.exclusive_minimum))

    def describe(self) -> str:
        words = [(self.minimum, "at least"), (self.exclusive_minimum, "more than"), (self.maximum, "at most")]
        return " and ".join(f"{word} {limit}" for limit, word in words if limit is not None)


def bounded(default: N, minimum: float | None = None, maximum: float | None = None, exclusive_minimum: float | None = None) -> N:
    """A number setting's default and the range its values must lie in (a value outside is a bad value)."""
    return field(default=default, metadata={"bounds": Bounds(minimum, maximum, exclusive_minimum)})


@dataclass
class ModelSettings:
    """How the model is found, loaded and sampled."""

    path: str | None = None
    """A GGUF file. Empty: the environment variable GEMMA_LSP_MODEL, then the bundled Gemma 3 270M."""

    lora_path: str | tuple[str, ...] = ""
    """A GGUF LoRA adapter of the model (made by `gemma-quantize tune`), or a list of them, applied
    on load. "" or "none": no adapter. An adapter of another base model is refused with a message."""

    n_ctx: int = bounded(8192, minimum=256)
    """Context window in tokens. Prompts longer than this minus max_tokens are cut by rule."""

    n_gpu_layers: int = bounded(-1, minimum=-1)
    """Layers offloaded to the GPU. -1: all of them when llama.cpp was built with GPU support, else 0."""

    flash_attn: bool = True
    """Use flash attention (faster prefill, needed for a quantized V cache)."""

    n_batch: int = bounded(2048, minimum=1)
    """Tokens per prefill batch (progress is reported after each; llama.cpp's abort callback
    stops a cancelled batch inside). 2048: the setting measured in tests/benchmarks/RESULTS.md."""

    n_ubatch: int = bounded(512, minimum=1)
    """Tokens per physical micro-batch inside a batch (larger is faster on big GPUs, uses more memory)."""

    swa_full: bool = False
    """Keep the whole context in the sliding-window layers' cache. False saves much memory on long
    contexts (Gemma's local layers then keep only their window: what lets 128K fit a 24 GB card);
    a changed prompt then reuses the cached prefix through swa_checkpoints."""

    swa_checkpoints: int = bounded(3, minimum=0)
    """With swa_full off: how many snapshots of the sliding-window layers to keep in host memory,
    taken where prompts part, so the next prompt that parts there reuses the prefix before it."""

    warm_up: bool = True
    """Load the model (and restore the saved KV state) in the background once the workspace is
    indexed, so the first question does not wait for it."""

    keep_kv_state: bool = True
    """Save the KV cache of the stable prompt prefix (repository map, related code) to the user
    cache directory when the server stops, and restore it when it starts: no cold prefill after
    a restart."""

    prompt_lookup: bool = True
    """Refactors guess their next tokens from the prompt they rewrite and check
    a batch of guesses at once (prompt-lookup decoding): each kept token is the model's own choice."""

    sampler: SamplerName = "auto"
    """How the next token is chosen (the same top-k / penalty / top-p / min-p / temperature chain
    in each). fast: in numpy among the few logits near the top of the row; gpu-top-k: llama.cpp
    finds the top k inside the model's graph, so only k logits leave the GPU, and Python does the
    rest; llama: llama.cpp's own chain on the CPU, which copies and sorts the whole vocabulary
    every token (about 1 ms for Gemma's 262K). auto: gpu-top-k when layers run on a GPU, else fast."""

    kv_cache_type: KvCacheType = "f16"
    """KV cache precision: f16, q8_0 (half the memory) or q4_0."""

    n_threads: int = bounded(0, minimum=0)
    """CPU threads for generation. 0: as many as the machine has cores."""

    max_tokens: int = bounded(256, minimum=1)
    """The most tokens one answer may have."""

    temperature: float = bounded(0.2, minimum=0)
    """Sampling temperature. 0 gives the same answer for the same prompt."""

    prompt_style: PromptStyle = "auto"
    """chat: the model's chat format; completion: few-shot text for base models; auto: chat when
    the GGUF carries a chat template, else completion."""

    thinking: ThinkingMode = "auto"
    """Whether a model that can think (Gemma 4) does so before it answers, in chat prompts. auto:
    for Fix failing test and Refactor, which gain most from reasoning; on: for every streamed
    action (hover never thinks: it must be quick); off: never. The thought is shown as thinking
    while it streams and folded in the explanation document, never put into code or comments."""

    thinking_max_tokens: int = bounded(1024, minimum=1)
    """Tokens the thought may take, on top of max_tokens (an answer cut off inside its thought
    says so)."""


@dataclass
class VerifySettings:
    """How proposed edits are checked before they are offered."""

    run_tests: bool = True
    """Run the tests that exercise the changed code (in a sandboxed copy of the workspace)."""

    timeout_seconds: float = bounded(120.0, exclusive_minimum=0)
    """The longest one verification's test run may take."""

    memory_mb: int = bounded(2048, minimum=64)
    """Memory limit of the test run."""

    attempts: int = bounded(2, minimum=1)
    """Answers the model may give: when verification refuses an edit for what it holds, or an Explain
    repeats another definition's docstring, the next is sampled afresh (another seed, temperature >= 0.6)."""

    allow_unsandboxed: bool = False
    """Run tests with your own rights where no sandbox (bubblewrap) can be made. Off: such a
    machine checks edits statically (parse, lint) and says the tests were not run. Tests are code
    the model wrote: turn this on only if you accept what they may do to your files and network."""


@dataclass
class OnSaveSettings:
    """What happens when a Python file is saved."""

    stub_tests: Literal["auto"] | bool = "auto"
    """Append stub tests (skipped until written) to tests/test_<module>.py for public functions
    added or changed since the last save that no test references. auto: only for files in a
    package (a folder with __init__.py); true: every workspace file; false: never."""


@dataclass
class HoverSettings:
    """What hovering over code shows."""

    explain: bool = True
    """Add a short model explanation to the static facts (cached by the code's content)."""

    wait_seconds: float = bounded(2.0, minimum=0)
    """How long a hover waits for the explanation before showing the static part alone (the
    explanation is then finished in the background for the next hover)."""

    max_tokens: int = bounded(80, minimum=1)
    """The longest hover explanation."""


@dataclass
class IndexSettings:
    """Which workspace files the index reads, and how it keeps them current."""

    exclude: str = ""
    """Extra gitignore-style patterns, comma separated, on top of every .gitignore (e.g. "build/, *_pb2.py")."""

    max_file_bytes: int = bounded(1_000_000, minimum=1)
    """Files larger than this are skipped (generated code, data dumps); the skip is logged once."""

    workers: int = bounded(0, minimum=0)
    """Processes that parse files on a cold start. 0: one per core."""

    cache: bool = True
    """Keep the parsed facts in the user cache dir, so a restart only checks file sizes and times."""

    watch: bool = True
    """Follow changes made outside the editor (git checkout, generated files) with a file watcher."""

    git: bool = True
    """Use git history: uncommitted and recently changed files rank higher."""


@dataclass
class ContextSettings:
    """How related code is ranked and packed into the prompt."""

    uses_weight: float = bounded(3.0, minimum=0)
    """Score of a definition the target uses directly (calls, names, attributes it resolves to)."""

    base_weight: float = bounded(3.0, minimum=0)
    """Score of a base class of the target's class, and of the method the target overrides."""

    caller_weight: float = bounded(2.0, minimum=0)
    """Score of a definition that calls or names the target."""

    test_weight: float = bounded(2.0, minimum=0)
    """Score of a test function that uses the target."""

    recent_weight: float = bounded(0.5, minimum=0)
    """Extra score of definitions in files changed but not committed, or edited in this session."""

    pagerank_weight: float = bounded(1.0, minimum=0)
    """Weight of personalized PageRank over the symbol graph, seeded at the target (ranks the rest)."""

    pagerank_alpha: float = bounded(0.85, minimum=0, maximum=1)
    """PageRank damping: lower values keep the walk closer to the target."""

    neighbourhood_files: int = bounded(300, minimum=1)
    """The most files (nearest by imports first) whose symbols enter the graph of one request."""

    file_share: float = bounded(0.35, minimum=0, maximum=1)
    """Share of the budget the current file may take when it does not fit whole."""

    repo_map_share: float = bounded(0.15, minimum=0, maximum=1)
    """Share of the budget kept for the repository map (signatures and docstrings)."""

    file_ranked_from: int = bounded(16384, minimum=0)
    """From this budget (tokens) on, code ranked for the whole current file comes first: a question
    about another function of the file reuses that prompt prefix. 0 turns it off."""

    file_ranked_share: float = bounded(0.5, minimum=0, maximum=1)
    """Share of the budget (less the current file when it fits whole) for that file-ranked code."""


@dataclass
class RemoteSettings:
    """A team server with an OpenAI-compatible API (llama-server, llama-cpp-python's server, vLLM)."""

    url: str = "http://127.0.0.1:8080/v1"
    """The server's OpenAI API base (ending in /v1). A loopback address is allowed as it is; any
    other host must also be listed in allowed_hosts."""

    model: str = ""
    """The model name the server knows. Empty: the first model the server lists."""

    api_key_env: str = ""
    """The name of an environment variable holding the API key (never the key itself). Empty: no key."""

    allowed_hosts: tuple[str, ...] = ()
    """Hosts other than this machine that code may be sent to, e.g. ["gpu-box.internal"]."""

    timeout_seconds: float = bounded(60.0, exclusive_minimum=0)
    """The longest wait to connect, or for the next piece of an answer."""

    retries: int = bounded(2, minimum=0)
    """Extra attempts when the server cannot be reached (never once an answer has started)."""

    verify_tls: bool = True
    """Check the server's HTTPS certificate. Turn off only for a self-signed server you trust."""

    llama_server_cache: bool = False
    """The server is llama.cpp's llama-server: send cache_prompt and a stable id_slot per workspace
    so it reuses the prompt prefix."""


@dataclass
class Settings:
    """All settings of gemma-lsp (the ``gemmaLsp`` section in editors)."""

    model: ModelSettings = field(default_factory=ModelSettings)
    """The model and how to run it (n_ctx, max_tokens, temperature and prompt_style apply to every backend)."""

    backend: BackendName = "llama_cpp"
    """llama_cpp: the model runs in this process, no sockets. openai: prompts go to the server of
    remote.url over HTTP."""

    remote: RemoteSettings = field(default_factory=RemoteSettings)
    """The team server, used when backend is openai."""

    hover: HoverSettings = field(default_factory=HoverSettings)
    """Hover over code."""

    verify: VerifySettings = field(default_factory=VerifySettings)
    """Verification of proposed edits."""

    on_save: OnSaveSettings = field(default_factory=OnSaveSettings)
    """What saving a file does (stub tests)."""

    index: IndexSettings = field(default_factory=IndexSettings)
    """The workspace index."""

    context: ContextSettings = field(default_factory=ContextSettings)
    """Ranking and packing of the code the model sees."""

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """How much the server logs to the client's output channel."""


def snake_case(key: str) -> str:
    """``nGpuLayers`` -> ``n_gpu_layers``; snake_case keys pass unchanged."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def settings_from_mapping(data: Mapping[str, Any] | None, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Overlay ``data`` on ``base`` (or the defaults). Returns the settings and the problems found."""
    problems: list[str] = []
    settings = _overlay(base or Settings(), data or {}, "", problems)
    return settings, problems


def _overlay(obj: Any, data: Mapping[str, Any], prefix: str, problems: list[str]) -> Any:
    if not isinstance(data, Mapping):
        problems.append(f"{prefix.rstrip('.') or 'settings'}: expected an object, got {data!r}")
        return obj
    hints = typing.get_type_hints(type(obj))
    fields = {f.name: f for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for raw_key, value in data.items():
        name = snake_case(raw_key)
        if name not in fields:
            problems.append(f"{prefix}{raw_key}: unknown setting, ignored")
            continue
        current = getattr(obj, name)
        if dataclasses.is_dataclass(current):
            changes[name] = _overlay(current, value, f"{prefix}{name}.", problems)
            continue
        ok, converted = _convert(value, hints[name])
        bounds = fields[name].metadata.get("bounds")
        if not ok:
            problems.append(f"{prefix}{name}: {value!r} is not {_describe(hints[name])}; using {current!r}")
        elif bounds is not None and not bounds.contains(converted):
            problems.append(f"{prefix}{name}: {value!r} is not {bounds.describe()}; using {current!r}")
        else:
            changes[name] = converted
    return dataclasses.replace(obj, **changes)


def _convert(value: Any, hint: Any) -> tuple[bool, Any]:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return (value in args, value)
    if origin in (typing.Union, getattr(types, "UnionType", typing.Union)):
        for option in args:
            ok, converted = _convert(value, option)
            if ok:
                return True, converted
        return False, None
    if hint is type(None):
        return (value is None or value == "", None)
    if hint is bool:
        return (isinstance(value, bool), value)
    if hint is int:
        return (isinstance(value, int) and not isinstance(value, bool), value)
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return (ok, float(value) if ok else None)
    if hint is str:
        return (isinstance(value, str), value)
    if origin is tuple and args[1:] == (Ellipsis,):
        if not isinstance(value, (list, tuple)):
            return False, None
        converted = [_convert(item, args[0]) for item in value]
        return (all(ok for ok, _ in converted), tuple(item for _, item in converted))
    return False, None


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        return f"a list of {args[0].__name__} values"
    if args:
        return " or ".join(_describe(a) for a in args)
    return "null" if hint is type(None) else f"a {hint.__name__}"


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a settings class (used by ``gemma-lsp doctor``)."""
    import ast
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(following, ast.Expr):
            if isinstance(following.value, ast.Constant) and isinstance(following.value.value, str):
                docs[node.target.id] = " ".join(following.value.value.split())  # type: ignore[attr-defined]
    return docs
