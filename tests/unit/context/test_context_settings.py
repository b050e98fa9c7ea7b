from lsp_server.config import ContextSettings, IndexSettings, Settings, field_docs, settings_from_mapping


def test_index_and_context_sections_take_camel_case_and_report_bad_values():
    settings, problems = settings_from_mapping({"context": {"testWeight": 5, "pagerankAlpha": "high"}, "index": {"maxFileBytes": 10}})
    assert settings.context.test_weight == 5.0 and settings.index.max_file_bytes == 10
    assert settings.context.pagerank_alpha == ContextSettings().pagerank_alpha
    assert problems == ["context.pagerank_alpha: 'high' is not a float; using 0.85"]
    assert isinstance(Settings().index, IndexSettings)


def test_every_setting_is_documented():
    for cls in (ContextSettings, IndexSettings):
        assert set(field_docs(cls)) == set(cls.__dataclass_fields__)
