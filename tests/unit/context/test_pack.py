import os
from pathlib import Path

from lsp_server.context.pack import Related, count_all, pack_context
from lsp_server.estimate import estimate_tokens
from lsp_server.context.target import Target

ROOT = Path("/w")
TARGET = Target(ROOT / "app.py", "run", "function", 2, 3, "def run():\n    return helper()\n", None)
FILE = "import lib\n\ndef run():\n    return helper()\n"


def related(name: str, size: int, path: str = "lib.py", line: int = 0) -> Related:
    body = f"def {name}():\n" + "    x = 1\n" * size
    return Related(ROOT / path, name, "function", line, line + size, body, f"def {name}():", f"{name} docs", "used by the target")


def test_layout_is_map_then_related_by_place_then_file():
    ranked = [related("b", 2, "z.py"), related("a", 2, "a.py"), related("big", 400, "m.py")]
    packed = pack_context(TARGET, FILE, ranked, budget=300, relative_to=ROOT)
    assert [item.section for item in packed.items] == ["repo map", "related", "related", "current file"]
    assert [item.title for item in packed.items[1:3]] == ["a.py: a", "z.py: b"]  # by path, not by score
    assert packed.items[0].text == "m.py:1: def big():  # big docs\n"
    assert packed.tokens <= 300


def test_the_same_input_gives_the_same_prefix():
    ranked = [related(f"f{i}", 3, f"m{i % 3}.py", i * 10) for i in range(20)]
    first = pack_context(TARGET, FILE, ranked, budget=250, relative_to=ROOT)
    second = pack_context(TARGET, FILE, list(ranked), budget=250, relative_to=ROOT)
    assert [i.text for i in first.items] == [i.text for i in second.items]
    assert first.manifest == second.manifest


def test_the_exact_count_drops_the_lowest_ranked_until_it_fits():
    ranked = [related("a", 2), related("b", 2, line=10), related("c", 2, line=20)]
    generous = pack_context(TARGET, FILE, ranked, budget=100, relative_to=ROOT)
    assert {e["symbol"] for e in generous.manifest if e["section"] == "related"} == {"a", "b", "c"}
    double = lambda text: 2 * estimate_tokens(text)  # noqa: E731 - a tokenizer twice as hungry
    packed = pack_context(TARGET, FILE, ranked, budget=100, count_tokens=double, relative_to=ROOT)
    assert packed.exact and packed.tokens <= 100
    assert [e["symbol"] for e in packed.manifest if e["section"] == "left out"] == ["c"]


def test_manifest_lines_are_one_based_and_inclusive():
    packed = pack_context(TARGET, FILE, [related("a", 2, line=4)], budget=500, relative_to=ROOT)
    entry = next(e for e in packed.manifest if e["symbol"] == "a")
    assert (entry["path"], entry["start_line"], entry["end_line"], entry["tokens"]) == ("lib.py", 5, 7, estimate_tokens(related("a", 2).text))
    assert packed.manifest[-1]["start_line"] == 3 and packed.manifest[-1]["section"] == "target"


def test_count_all_counts_every_text_once_on_several_threads():
    import threading

    threads, seen = set(), []

    def slow_count(text: str) -> int:
        threads.add(threading.get_ident())
        seen.append(text)
        threading.Event().wait(0.01)  # long enough that one thread cannot take them all
        return len(text)

    texts = [f"text {i}" * (i + 1) for i in range(12)]
    assert count_all(slow_count, texts) == sum(map(len, texts))
    assert sorted(seen) == sorted(texts)
    assert len(threads) > 1 or (os.cpu_count() or 1) == 1
    assert count_all(slow_count, ["a", "bb"]) == 3  # a few: counted here
