"""One sampling step on the same logits, llama.cpp's chain vs the numpy sampler (bundled model, CPU).

    python -m tests.benchmarks.bench_sampler

Prints milliseconds per step for greedy and temperature 0.2. Not a test: it asserts nothing.
"""
import time
from lsp_server.model.native import preload_llama_libraries
preload_llama_libraries()
from lsp_server.config import ModelSettings
from lsp_server.model.llama_backend import LlamaCppBackend
from lsp_server.model.sampling import Sampling
b = LlamaCppBackend(ModelSettings(n_ctx=2048, keep_kv_state=False, warm_up=False)); b.load()
e = b._engine
toks = b._llm.tokenize(b"def fibonacci(n):\n    if n < 2:\n", add_bos=True, special=False)
e.prefill(toks, 0, __import__("lsp_server.model.backend", fromlist=["CancelToken"]).CancelToken())
for temp in (0.0, 0.2):
    for native in (True, False):
        choose, free = e.chooser(Sampling(temperature=temp), native)
        for _ in range(20): choose(-1)
        n = 500; t = time.perf_counter()
        for _ in range(n): choose(-1)
        dt = (time.perf_counter() - t) / n * 1e3
        print(f"temperature {temp} {'llama.cpp chain' if native else 'numpy near-top-k'}: {dt:.3f} ms per token", flush=True)
        free()
