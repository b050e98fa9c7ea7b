from lsp_server.actions.refactor import answer_tokens


def test_a_rewrite_gets_room_for_the_whole_function():
    short = "def f():\n    return 1\n"
    assert answer_tokens(short, 256) == 256  # the setting when the code is small
    long = "def f(values):\n" + "    total = sum(value * 2 for value in values if value)\n" * 40
    assert answer_tokens(long, 256) > len(long) // 3  # more than the code itself, in tokens
    assert answer_tokens(long, 4096) == 4096
