import dataclasses

import pytest

from lsp_server.config import Bounds, ContextSettings, ModelSettings, Settings, field_docs, settings_from_mapping, snake_case


def test_camel_case_keys_are_accepted():
    settings, problems = settings_from_mapping({"model": {"nGpuLayers": 12, "nCtx": 4096}, "logLevel": "debug"})
    assert problems == []
    assert settings.model.n_gpu_layers == 12
    assert settings.model.n_ctx == 4096
    assert settings.log_level == "debug"


def test_bad_values_keep_defaults_and_are_reported_once_each():
    settings, problems = settings_from_mapping({"model": {"n_ctx": "big", "kv_cache_type": "q9", "unknown": 1}})
    assert settings.model == ModelSettings()
    assert len(problems) == 3
    assert any("n_ctx" in p and "int" in p for p in problems)
    assert any("kv_cache_type" in p and "'q8_0'" in p for p in problems)
    assert any("unknown" in p for p in problems)


def test_overlay_keeps_earlier_values():
    base, _ = settings_from_mapping({"model": {"path": "/m.gguf", "n_ctx": 2048}})
    settings, problems = settings_from_mapping({"model": {"n_ctx": 1024}}, base)
    assert problems == []
    assert settings.model.path == "/m.gguf"
    assert settings.model.n_ctx == 1024


def test_a_section_that_is_not_an_object_is_reported():
    settings, problems = settings_from_mapping({"model": 3})
    assert settings == Settings()
    assert problems and "model" in problems[0]


def test_path_may_be_cleared_and_bools_are_not_ints():
    settings, problems = settings_from_mapping({"model": {"path": None, "n_batch": True}})
    assert settings.model.path is None
    assert len(problems) == 1 and "n_batch" in problems[0]


def sections() -> list[type]:
    """Settings and the class of each of its sections."""
    defaults = Settings()
    return [Settings, *(type(getattr(defaults, f.name)) for f in dataclasses.fields(Settings) if dataclasses.is_dataclass(getattr(defaults, f.name)))]


def test_every_setting_has_a_docstring():
    assert len(sections()) == 8  # Settings and its seven sections
    for cls in sections():
        docs = field_docs(cls)
        assert set(docs) == {f for f in cls.__dataclass_fields__}
        assert all(len(text) > 10 for text in docs.values())


def test_index_and_context_sections_take_camel_case_and_report_bad_values():
    settings, problems = settings_from_mapping({"context": {"testWeight": 5, "pagerankAlpha": "high"}, "index": {"maxFileBytes": 10}})
    assert settings.context.test_weight == 5.0 and settings.index.max_file_bytes == 10
    assert settings.context.pagerank_alpha == ContextSettings().pagerank_alpha
    assert problems == ["context.pagerank_alpha: 'high' is not a float; using 0.85"]


def test_snake_case():
    assert snake_case("nGpuLayers") == "n_gpu_layers"
    assert snake_case("kv_cache_type") == "kv_cache_type"


def test_on_save_stub_tests_takes_auto_or_a_bool():
    from lsp_server.config import OnSaveSettings

    assert set(field_docs(OnSaveSettings)) == {"stub_tests"}
    assert Settings().on_save.stub_tests == "auto"
    for value in ("auto", True, False):
        settings, problems = settings_from_mapping({"onSave": {"stubTests": value}})
        assert settings.on_save.stub_tests == value and not problems
    settings, problems = settings_from_mapping({"onSave": {"stubTests": "sometimes"}})
    assert settings.on_save.stub_tests == "auto" and "stub_tests" in problems[0]


@pytest.mark.parametrize(("data", "problem"), [
    ({"model": {"nCtx": -5}}, "model.n_ctx: -5 is not at least 256; using 8192"),
    ({"model": {"nBatch": 0}}, "model.n_batch: 0 is not at least 1; using 2048"),
    ({"model": {"temperature": -0.1}}, "model.temperature: -0.1 is not at least 0; using 0.2"),
    ({"verify": {"timeoutSeconds": 0}}, "verify.timeout_seconds: 0 is not more than 0; using 120.0"),
    ({"verify": {"memoryMb": 16}}, "verify.memory_mb: 16 is not at least 64; using 2048"),
    ({"context": {"fileShare": 1.5}}, "context.file_share: 1.5 is not at least 0 and at most 1; using 0.35"),
    ({"remote": {"retries": -1}}, "remote.retries: -1 is not at least 0; using 2"),
])
def test_numbers_out_of_range_are_reported_and_replaced(data, problem):
    settings, problems = settings_from_mapping(data)
    assert problems == [problem] and settings == Settings()


def test_the_limits_themselves_are_accepted():
    data = {"model": {"nCtx": 256, "nGpuLayers": -1, "temperature": 0}, "context": {"repoMapShare": 1, "pagerankAlpha": 0}}
    settings, problems = settings_from_mapping(data)
    assert problems == [] and settings.model.n_ctx == 256 and settings.context.repo_map_share == 1.0


def test_every_number_setting_has_bounds_its_default_meets():
    for cls in sections():
        for f in dataclasses.fields(cls):
            if f.type in ("int", "float"):
                bounds = f.metadata.get("bounds")
                assert isinstance(bounds, Bounds) and bounds.contains(f.default), f"{cls.__name__}.{f.name}"
