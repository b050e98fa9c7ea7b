from lsp_server.model.text_stream import TextStream


def test_split_utf8_sequences_are_joined():
    stream = TextStream()
    data = "héllo ✓".encode()
    pieces = [stream.feed(data[i : i + 1]) for i in range(len(data))] + [stream.finish()]
    assert "".join(pieces) == "héllo ✓"
    assert stream.text == "héllo ✓"


def test_stops_at_a_stop_string_split_across_tokens():
    stream = TextStream(stop=("###",))
    shown = [stream.feed(b"It adds #"), stream.feed(b"#"), stream.feed(b"# next")]
    assert "".join(shown) == "It adds "
    assert stream.stopped
    assert stream.feed(b"more") == ""


def test_held_back_text_is_released_when_it_is_not_a_stop():
    stream = TextStream(stop=("###",))
    assert stream.feed(b"a #") == "a "
    assert stream.feed(b" b") == "# b"
    assert stream.finish() == ""
    assert stream.text == "a # b"
