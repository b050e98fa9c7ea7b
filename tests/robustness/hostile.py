"""Generated hostile workspaces: what a real tree can throw at the index, and what must come of it.

Each tree mixes good files (which must all be indexed, syntax errors included: tree-sitter
recovers) with problems the index must survive and report once: binary and non-UTF-8 files,
files too large, unreadable files and folders, symlink loops; and harmless oddities that must not
be reported (a directory symlink back to the root, which is not followed; a FIFO named like a
module). Files named in ``vanishing`` are deleted while the index builds.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 1_000_000  # the default of index.max_file_bytes


@dataclass
class HostileTree:
    root: Path
    good: set[Path] = field(default_factory=set)
    """Files that must be in the index."""
    problems: dict[Path, str] = field(default_factory=dict)
    """Path -> a word its reported reason must contain."""
    denied: list[Path] = field(default_factory=list)
    """Files and folders made unreadable (chmod 000): they deny only a user other than root."""
    vanishing: set[Path] = field(default_factory=set)
    """Good files to delete during indexing: afterwards absent, reported at most once."""
    probe: tuple[Path, int, int, str] | None = None
    """(file, line, column, name) where a hover must name the definition ``name``."""


def good_module(rng: random.Random, number: int) -> str:
    body = "".join(f"    value = value * {rng.randint(1, 9)} + {i}\n" for i in range(rng.randint(1, 6)))
    return f'"""Module {number}."""\n\n\ndef func_{number}(value):\n{body}    return value\n\n\nclass Thing{number}:\n    def method(self):\n        return func_{number}(1)\n'


def make_hostile_tree(root: Path, seed: int) -> HostileTree:
    rng = random.Random(seed)
    tree = HostileTree(root)
    root.mkdir(parents=True)

    def write(relative: str, content: str | bytes, good: bool = True) -> Path:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        if good:
            tree.good.add(path)
        return path

    for i in range(rng.randint(5, 15)):
        write(f"pkg{i % 3}/mod_{i}.py", good_module(rng, i))
    write("pkg0/__init__.py", "")
    long = "def very_long(value):\n" + "".join(f"    value = value + {i}  # step {i}\n" for i in range(10_000)) + "    return value\n"
    tree.probe = (write("long_function.py", long), 0, 5, "very_long")
    depth = rng.randint(50, 95)  # CPython's own parser stops at 100 nested blocks; tree-sitter must not care
    write("deep_blocks.py", "def nested(x):\n" + "".join("    " * (d + 1) + f"if x > {d}:\n" for d in range(depth)) + "    " * (depth + 1) + "return x\n")
    write("deep_parens.py", "value = " + "(" * 3000 + "1" + ")" * 3000 + "\n\ndef after_parens():\n    return value\n")
    write("/".join(f"d{i}" for i in range(rng.randint(40, 80))) + "/bottom.py", good_module(rng, 99))
    for i in range(rng.randint(1, 4)):
        broken = rng.choice(["def broken(:\n    return\n", "class X(\n", "def f():\n\treturn 1\n        return 2\n", "x = [1, 2\ndef g(): pass\n", "'''unterminated\n"])
        write(f"broken/syntax_{i}.py", broken + good_module(rng, 200 + i))
    write("crlf.py", good_module(rng, 300).replace("\n", "\r\n"))
    write("bom.py", "\ufeff" + good_module(rng, 301))
    write("empty.py", "")
    write("nul_late.py", good_module(rng, 302) + "#" * 9000 + "\0\n")  # NUL past the binary probe: valid UTF-8
    write(os.fsdecode(b"odd_name_\xff.py"), good_module(rng, 303))  # a file name that is not UTF-8

    tree.problems[write("binary.py", b"\x00\x01\x02" + rng.randbytes(2048), good=False)] = "binary"
    tree.problems[write("latin1.py", "name = 'caf\xe9'\n".encode("latin-1"), good=False)] = "UTF-8"
    tree.problems[write("huge.py", "x = 1\n" * (MAX_FILE_BYTES // 6 + 10), good=False)] = "larger than"

    (root / "pkg1" / "loop_to_root").symlink_to(root, target_is_directory=True)  # not followed
    (root / "self_loop.py").symlink_to(root / "self_loop.py")
    (root / "loop_a.py").symlink_to(root / "loop_b.py")
    (root / "loop_b.py").symlink_to(root / "loop_a.py")
    for name in ("self_loop.py", "loop_a.py", "loop_b.py"):
        tree.problems[root / name] = "symlink"
    os.mkfifo(root / "pipe.py")  # not a regular file: not ours, not a problem

    locked = write("locked/secret_mod.py", good_module(rng, 400), good=False)
    unreadable = write("unreadable.py", good_module(rng, 401), good=False)
    for path in (locked.parent, unreadable):
        path.chmod(0)
        tree.denied.append(path)
        tree.problems[path] = "Permission"

    for i in range(rng.randint(2, 6)):
        tree.vanishing.add(write(f"vanish/gone_{i}.py", good_module(rng, 500 + i)))
    return tree


def unlock(tree: HostileTree) -> None:
    """Make the denied paths removable again (for the temporary directory's cleanup)."""
    for path in tree.denied:
        path.chmod(0o755)
