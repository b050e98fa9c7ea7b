"""plan's arithmetic against figures worked out by hand from the shapes' configs."""

import pytest

from quantize.errors import UnknownQuantType, UnknownShape
from quantize.gpu_scratch import cublas_scratch_bytes, sampler_bytes
from quantize.plan import (
    GiB, MiB, Settings, compute_buffer_bytes, dequant_scratch_bytes, estimate, gpu_layer_ids, kv_bytes_per_element,
    kv_cache_bytes, kv_cells, max_context, max_gpu_layers, recommend, weights_for_quant,
)
from quantize.shapes import load_shape, shape_names
from quantize.tensors import parameter_count


def test_kv_element_sizes_come_from_ggml_block_sizes():
    assert kv_bytes_per_element("f16") == 2
    assert kv_bytes_per_element("q8_0") == 34 / 32
    assert kv_bytes_per_element("Q4_0") == 18 / 32


def test_unknown_kv_type_names_the_known_ones():
    with pytest.raises(UnknownQuantType, match="q8_0"):
        kv_bytes_per_element("q9_9")


def test_gemma4_31b_kv_cache_sliding_vs_global_at_32k():
    shape = load_shape("gemma4-31b")
    # 50 sliding layers: 1024 window + 512 ubatch = 1536 cells x (K+V) 16 heads x 256 x 2 bytes.
    sliding = 50 * 1536 * 2 * 16 * 256 * 2
    # 10 global layers: 32768 cells x (K+V) 4 heads x 512 x 2 bytes.
    glob = 10 * 32768 * 2 * 4 * 512 * 2
    assert sliding == 1_258_291_200 and glob == 2_684_354_560
    assert kv_cache_bytes(shape, 32768, "f16") == 3_942_645_760


def test_full_swa_cache_keeps_the_whole_context_in_every_layer():
    shape = load_shape("gemma4-31b")
    assert kv_cache_bytes(shape, 32768, "f16", swa_full=True) == 29_527_900_160


def test_q8_0_kv_is_17_32nds_of_f16():
    shape = load_shape("gemma4-31b")
    assert kv_cache_bytes(shape, 32768, "q8_0") == pytest.approx(3_942_645_760 * 17 / 32, rel=1e-9)


def test_gemma4_e2b_kv_shared_layers_keep_no_cache():
    shape = load_shape("gemma4-e2b")
    # Layers 0-14 own a cache; 4, 9 and 14 are global (1 KV head of 512), the 12 others slide (512 + 512 cells).
    expected = 12 * 1024 * 2 * 256 * 2 + 3 * 32768 * 2 * 512 * 2
    assert expected == 213_909_504
    assert kv_cache_bytes(shape, 32768) == expected
    assert kv_cells(shape, 20, 32768) == 0


def test_gemma3_270m_kv_cache():
    shape = load_shape("gemma3-270m")
    assert [il for il in range(18) if not shape.is_swa(il)] == [5, 11, 17]
    assert kv_cache_bytes(shape, 32768) == 15 * MiB + 3 * 32 * MiB


def test_context_is_padded_to_256_cells():
    shape = load_shape("gemma3-270m")
    assert kv_cells(shape, 5, 1000) == 1024
    assert kv_cells(shape, 0, 300) == 512


@pytest.mark.parametrize(("name", "billions"), [
    ("gemma3-270m", 0.268), ("gemma3-27b", 27.01), ("gemma4-31b", 30.70),
    ("gemma4-26b-a4b", 25.23), ("gemma4-e4b", 7.52), ("gemma4-e2b", 4.65),
])
def test_parameter_counts_match_the_model_cards(name, billions):
    assert parameter_count(load_shape(name)) / 1e9 == pytest.approx(billions, abs=0.01)


def test_gemma4_31b_parameter_count_exactly():
    # attention (global layers: no V), q/k norms, 4 norms, FFN, the layer output scale
    sliding = 5376 * 24576 + 2 * 256 + 4 * 5376 + 3 * 5376 * 21504 + 1
    glob = 5376 * 34816 + 2 * 512 + 4 * 5376 + 3 * 5376 * 21504 + 1
    rope_freqs = 512 // 2
    assert parameter_count(load_shape("gemma4-31b")) == 50 * sliding + 10 * glob + 5376 * 262144 + 5376 + rope_freqs


def test_compute_buffer_of_270m_with_and_without_flash_attention():
    shape = load_shape("gemma3-270m")
    assert compute_buffer_bytes(shape, 4096) == 4 * 512 * (262144 + 2 * 640)  # 514.5 MiB, as llama.cpp says
    assert compute_buffer_bytes(shape, 4096, flash_attn=False) == 4 * 512 * (262144 + 1280) + 4 * 512 * 4096 * 4


def test_quantized_kv_adds_an_f16_copy_of_the_largest_layer_on_cuda():
    shape = load_shape("gemma4-31b")
    assert dequant_scratch_bytes(shape, 131072, "f16") == 0
    # The global layers are the largest: 131072 cells x 4 heads x 512, K and V, 2 bytes each.
    assert dequant_scratch_bytes(shape, 131072, "q8_0") == 131072 * 4 * 512 * 2 * 2 == 1 * GiB


def test_llama_cpp_offloads_the_last_layers():
    assert list(gpu_layer_ids(18, 5)) == [13, 14, 15, 16, 17]
    assert list(gpu_layer_ids(18, 19)) == list(range(18))


def test_estimate_splits_weights_between_gpu_and_host():
    shape = load_shape("gemma4-31b")
    weights = weights_for_quant(shape, "Q4_K_M")
    full = estimate(shape, weights, Settings(61, 32768))
    half = estimate(shape, weights, Settings(30, 32768))
    assert full.weights_gpu == sum(weights.per_layer) + weights.output
    assert half.weights_gpu == sum(weights.per_layer[30:])
    assert half.weights_host + half.weights_gpu == weights.file_bytes
    assert estimate(shape, weights, Settings(0, 32768)).total_gpu == 0


def test_q4_k_m_31b_weighs_about_18_gib():
    weights = weights_for_quant(load_shape("gemma4-31b"), "Q4_K_M")
    assert weights.file_bytes / GiB == pytest.approx(30.697e9 * 4.89 / 8 / GiB, rel=0.01)


def test_max_gpu_layers_and_context_shrink_with_memory():
    shape = load_shape("gemma4-31b")
    weights = weights_for_quant(shape, "Q4_K_M")
    s = Settings(61, 32768)
    assert max_gpu_layers(shape, weights, s, 80 * GiB) == 61
    assert 0 < max_gpu_layers(shape, weights, s, 12 * GiB) < 61
    assert max_gpu_layers(shape, weights, s, 0) == 0
    assert max_context(shape, weights, s, 40 * GiB) > max_context(shape, weights, s, 24 * GiB) > 0


@pytest.mark.parametrize("name", shape_names())
def test_recommendation_for_a_24_gib_card_fits_it(name):
    rec = recommend(name, 24 * GiB)
    assert rec.estimate.total_gpu <= 24 * GiB * 0.95
    assert rec.settings.n_gpu_layers == rec.shape.n_layer + 1
    assert rec.settings.n_ctx >= 32768


def test_31b_on_24_gib_wants_a_k_quant_and_long_context_needs_a_smaller_one():
    default = recommend("gemma4-31b", 24 * GiB)
    long = recommend("gemma4-31b", 24 * GiB, ctx=131072)
    assert default.quant in ("Q5_K_M", "Q4_K_M")
    assert ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS"].index(long.quant) >= \
        ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "IQ4_XS"].index(default.quant)


def test_31b_on_an_8_gib_card_offloads_part_and_says_so():
    rec = recommend("gemma4-31b", 8 * GiB)
    assert 0 < rec.settings.n_gpu_layers < 61
    assert any("Not every layer fits" in note for note in rec.notes)


def test_cpu_only_plan():
    rec = recommend("gemma3-270m", 0)
    assert rec.settings.n_gpu_layers == 0 and rec.settings.kv_type == "f16"
    assert rec.llama_kwargs()["type_k"] == 1


def test_unknown_shape_lists_the_known_ones():
    with pytest.raises(UnknownShape, match="gemma4-31b"):
        recommend("gemma5-1t", 24 * GiB)


def test_n_ubatch_is_the_largest_that_fits_after_the_context():
    big = recommend("gemma4-31b", 80 * GiB)
    assert big.settings.n_ubatch == 2048
    assert big.llama_kwargs()["n_ubatch"] == 2048
    assert any("model.n_ubatch = 2048" in note for note in big.notes)
    # the compute buffer of a 2048-token ubatch is counted: f32 logits + two hidden rows per token,
    # and top-k in the graph (which fits here) reserves one more vocabulary row per token
    shape = big.shape
    assert big.settings.gpu_sampler
    assert big.estimate.compute_gpu == compute_buffer_bytes(shape, big.settings.n_ctx, 2048) + sampler_bytes(shape, 2048)


def test_gpu_buffers_match_the_h100_measurements_of_the_31b_shape():
    """nvidia-smi on an H100, build-cuda build, n_ubatch 2048 and 4096 (issue 22): the top-k
    buffers are one f32 vocabulary row per ubatch token; cuBLAS's f16 copies fit 513 / 619 MiB."""
    shape = recommend("gemma4-31b", 80 * GiB).shape
    assert sampler_bytes(shape, 2048) == 2048 * MiB
    assert abs(cublas_scratch_bytes(shape, 2048) / MiB - 513) <= 1
    assert abs(cublas_scratch_bytes(shape, 4096) / MiB - 619) <= 1


def test_cublas_buffers_are_counted_only_for_batches_that_use_it():
    kw = {"ctx": 32768, "kv_type": "f16", "n_ubatch": 2048}
    mmq, ours, small = (recommend("gemma4-31b", 80 * GiB, cublas_from=c, **kw) for c in (0, 384, 4096))
    shape = mmq.shape
    assert ours.estimate.compute_gpu - mmq.estimate.compute_gpu == cublas_scratch_bytes(shape, 2048)
    assert small.estimate.compute_gpu == mmq.estimate.compute_gpu  # 2048-token batches stay on MMQ
    assert any("cuBLAS from 384-token batches" in note for note in ours.notes)


def test_top_k_in_the_graph_is_dropped_before_the_context_is():
    rec = recommend("gemma4-31b", 24 * GiB, ctx=131072, kv_type="q4_0")
    assert rec.quant == "Q4_K_M" and rec.settings.n_ctx == 131072 and not rec.settings.gpu_sampler
    assert any('model.sampler = "fast"' in note for note in rec.notes)


def test_a_24_gib_card_keeps_the_31b_context_and_a_smaller_ubatch():
    for ctx, kv in ((None, None), (131072, "q4_0")):
        rec = recommend("gemma4-31b", 24 * GiB, ctx=ctx, kv_type=kv)
        assert rec.settings.n_gpu_layers == 61 and rec.quant == "Q4_K_M"
        assert rec.settings.n_ctx >= (ctx or 32768)
        assert rec.settings.n_ubatch == 512
        assert rec.estimate.total_gpu <= 24 * GiB * 0.95


def test_n_ubatch_grows_only_where_memory_is_left():
    sizes = [recommend("gemma4-31b", gib * GiB, ctx=32768).settings.n_ubatch for gib in (24, 25, 27, 48)]
    assert sizes == sorted(sizes) and sizes[0] == 512 and sizes[-1] == 2048


def test_n_ubatch_given_is_kept_and_cpu_plans_use_512():
    assert recommend("gemma4-31b", 80 * GiB, n_ubatch=512).settings.n_ubatch == 512
    assert recommend("gemma3-270m", 0).settings.n_ubatch == 512
    assert recommend("gemma4-31b", 8 * GiB).settings.n_ubatch == 512
