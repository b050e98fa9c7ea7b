"""What an instruction names in the workspace index."""

from lsp_server.context.mentions import name_parts, named_in
from tests.unit.context.indexed import indexed

FILES = {
    "app/config.py": 'REDIS_HOST = "localhost"\nREDIS_PORT = 6379\nTOKEN_SECONDS = 900\n\n\ndef redis_url():\n    return REDIS_HOST\n',
    "app/auth.py": "def login(user):\n    return user\n\n\ndef refresh_token(token):\n    return token\n",
    "app/store.py": "class MemoryStore:\n    def incr(self, key):\n        return 1\n",
    "app/misc.py": "".join(f"def data_{i}():\n    return {i}\n\n\n" for i in range(30)),
}


def found(tmp_path, instruction: str) -> dict[str, str]:
    index = indexed(tmp_path, FILES)
    return {m.symbol.qualname: m.reason for m in named_in(instruction, index)}


def test_the_existing_redis_configuration_finds_the_config_code(tmp_path):
    named = found(tmp_path, "Add rate limiting. Use the existing Redis configuration.")
    assert {"REDIS_HOST", "REDIS_PORT", "redis_url"} <= set(named)
    assert "'redis'" in named["REDIS_HOST"] and "'configuration'" in named["REDIS_HOST"]  # the word and the module config.py
    assert "login" not in named


def test_identifiers_and_file_names_are_found_exactly(tmp_path):
    named = found(tmp_path, "Call `incr` from refresh_token and read it in store.py")
    assert named["MemoryStore.incr"].startswith("named in the instruction: `incr`")
    assert "`refresh_token`" in named["refresh_token"]
    assert "the file store.py" in named["MemoryStore"]


def test_a_word_matching_too_much_names_nothing(tmp_path):
    assert not any(name.startswith("data_") for name in found(tmp_path, "clean up the data handling"))


def test_name_parts_split_snake_and_camel_case():
    assert name_parts("REDIS_URL") == ["redis", "url"] and name_parts("RateLimiter") == ["rate", "limiter"]
