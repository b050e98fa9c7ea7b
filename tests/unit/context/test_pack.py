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


def test_in_a_long_window_the_file_ranked_part_is_the_prefix_every_target_of_the_file_shares():
    """file_related first (its map and code, then the whole current file), the target's own code after."""
    file_text = "def run():\n    return helper()\n\ndef stop():\n    return halt()\n"
    run = Target(ROOT / "app.py", "run", "function", 0, 1, "def run():\n    return helper()\n", None)
    stop = Target(ROOT / "app.py", "stop", "function", 3, 4, "def stop():\n    return halt()\n", None)
    shared = [related("helper", 2, "lib.py"), related("halt", 2, "lib.py", 10), related("huge", 900, "big.py")]
    own = {"run": [related("helper", 2, "lib.py"), related("only_run", 2, "r.py")],
           "stop": [related("halt", 2, "lib.py", 10), related("only_stop", 3, "s.py")]}
    packs = {t.name: pack_context(t, file_text, own[t.name], budget=600, relative_to=ROOT, file_related=shared) for t in (run, stop)}
    for packed in packs.values():
        assert packed.stable_items == 4  # the map (huge), helper, halt, the current file
        assert [i.section for i in packed.items[: packed.stable_items]] == ["repo map", "related", "related", "current file"]
    assert [i.text for i in packs["run"].items[:4]] == [i.text for i in packs["stop"].items[:4]]
    assert [i.title for i in packs["run"].items[4:]] == ["r.py: only_run"]  # helper is in the shared part already
    assert [i.title for i in packs["stop"].items[4:]] == ["s.py: only_stop"]


def test_the_exact_count_drops_the_target_ranked_part_first():
    file_related = [related("a", 2), related("b", 2, line=10)]
    own = [related("c", 2, "c.py"), related("d", 2, "d.py")]
    double = lambda text: 2 * estimate_tokens(text)  # noqa: E731
    loose = pack_context(TARGET, FILE, own, budget=400, relative_to=ROOT, file_related=file_related)
    assert {e["symbol"] for e in loose.manifest if e["section"] == "related"} == {"a", "b", "c", "d"}
    packed = pack_context(TARGET, FILE, own, budget=int(loose.tokens * 1.4), count_tokens=double, relative_to=ROOT,
                          file_related=file_related)
    dropped = [e["symbol"] for e in packed.manifest if e["section"] == "left out"]
    assert dropped and set(dropped) <= {"c", "d"} and packed.tokens <= packed.budget


def test_the_file_ranked_part_does_not_depend_on_the_targets_size():
    """Its room comes from the budget: a long target (a smaller rest) must not shrink it, or the
    two targets' prompts would part inside it."""
    body = "".join(f"    x{i} = {i}\n" for i in range(300))
    file_text = "def short():\n    return 1\n\ndef long():\n" + body + "    return x1\n" + "# filler\n" * 2000
    short = Target(ROOT / "app.py", "short", "function", 0, 1, "def short():\n    return 1\n", None)
    long = Target(ROOT / "app.py", "long", "function", 3, 304, "def long():\n" + body + "    return x1\n", None)
    shared = [related(f"f{i}", 6, f"m{i}.py") for i in range(60)]
    packs = [pack_context(t, file_text, [], budget=3000, relative_to=ROOT, file_related=shared) for t in (short, long)]
    assert packs[0].stable_items == packs[1].stable_items > 0
    assert [i.text for i in packs[0].items[: packs[0].stable_items]] == [i.text for i in packs[1].items[: packs[1].stable_items]]


def test_what_the_file_part_only_maps_the_target_part_may_still_take_whole():
    """The file's part shows ``needed`` as a signature (no room); the target's part, ranked for the
    target, packs it whole, and its map does not repeat a signature the file's part shows."""
    file_text = "def run():\n    return needed()\n"
    run = Target(ROOT / "app.py", "run", "function", 0, 1, file_text, None)
    shared = [related("f0", 20, "m0.py"), related("needed", 20, "n.py")] + [related(f"f{i}", 20, f"m{i}.py") for i in range(1, 6)]
    own = [related("needed", 20, "n.py"), related("f1", 400, "m1.py")]  # f1: too big to go whole
    packed = pack_context(run, file_text, own, budget=260, relative_to=ROOT, file_related=shared)
    first_map = packed.items[0].text if packed.items[0].section == "repo map" else ""
    assert "n.py:1: def needed():" in first_map and "m1.py:1: def f1():" in first_map
    assert "n.py: needed" in [i.title for i in packed.items[packed.stable_items:]]
    later_maps = [i.text for i in packed.items[packed.stable_items:] if i.section == "repo map"]
    assert not any("m1.py" in text for text in later_maps)
