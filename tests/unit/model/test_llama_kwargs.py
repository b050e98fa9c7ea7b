from lsp_server.config import ModelSettings
from lsp_server.model import llama_backend
from lsp_server.model.llama_backend import KV_TYPES, llama_kwargs, top_k_on_gpu


def test_auto_gpu_layers_follow_the_build():
    assert llama_kwargs(ModelSettings(), gpu_supported=True, cpu_count=8)["n_gpu_layers"] == -1
    assert llama_kwargs(ModelSettings(), gpu_supported=False, cpu_count=8)["n_gpu_layers"] == 0
    assert llama_kwargs(ModelSettings(n_gpu_layers=7), gpu_supported=False, cpu_count=8)["n_gpu_layers"] == 7


def test_quantized_v_cache_needs_flash_attention():
    with_fa = llama_kwargs(ModelSettings(kv_cache_type="q8_0"), False, 2)
    without_fa = llama_kwargs(ModelSettings(kv_cache_type="q8_0", flash_attn=False), False, 2)
    assert with_fa["type_k"] == with_fa["type_v"] == KV_TYPES["q8_0"]
    assert without_fa["type_k"] == KV_TYPES["q8_0"] and without_fa["type_v"] == KV_TYPES["f16"]


def test_threads_and_quiet():
    kwargs = llama_kwargs(ModelSettings(), False, 6)
    assert kwargs["n_threads"] == 6 and kwargs["verbose"] is False
    assert llama_kwargs(ModelSettings(n_threads=3), False, 6)["n_threads"] == 3


def test_top_k_runs_in_the_graph_only_where_asked_or_on_a_gpu(monkeypatch):
    monkeypatch.setattr(llama_backend, "gpu_offload_supported", lambda: True)
    assert top_k_on_gpu("auto", -1) and top_k_on_gpu("auto", 12)
    assert not top_k_on_gpu("auto", 0)  # every layer on the CPU: the numpy path is as fast
    assert top_k_on_gpu("gpu-top-k", 0)  # asked for: runs in the CPU graph
    assert not top_k_on_gpu("fast", -1) and not top_k_on_gpu("llama", -1)
    monkeypatch.setattr(llama_backend, "gpu_offload_supported", lambda: False)
    assert not top_k_on_gpu("auto", -1)
