"""Generated Python modules for the index's tests: the constructs real code has (decorators,
classes in classes, async code, f-strings with conversions and format specs, strings and comments
that hold keywords, multi-line signatures, conditional imports), with names drawn from a seed, so
a test reads a few hundred lines of varied, valid code without reading this project's files."""

from __future__ import annotations

import random

WORDS = ("price", "cart", "item", "total", "tax", "rate", "order", "stock", "label", "cache", "node", "graph", "token",
         "budget", "report", "store", "entry", "value", "limit", "window", "scope", "frame", "batch", "queue")

HEADER = '''"""A module of {a} and {b}: def and class in a docstring are not definitions."""

from __future__ import annotations

import os
import re as regex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .{a} import {B}, {c} as {c}_alias
from ..{b}.{c} import (
    {d},
    {e},
)

if TYPE_CHECKING:
    from .{e} import {E}

try:
    import json
except ImportError:  # class Fake: not a definition
    json = None

{A_UPPER}_LIMIT = 3
{B_UPPER}_TABLE = {{"{a}": 1, "{b}": ({a}_value := 2)}}
{C_UPPER}: int = {A_UPPER}_LIMIT * 2
'''

BLOCKS = (
    '''

def {a}_{b}({a}: int, {b}: str = "x", *{c}s, {d}: float = 0.5, **{e}s) -> str:
    """Join {a} and {b}; a # in a docstring is no comment."""
    # a comment naming class {B} and def {c}
    {e} = [{a} * 2 for {a} in range({A_UPPER}_LIMIT) if {a} % 2]
    return f"{{{a}!r}} {{{b}:>10}} {{len({e}):d}}" + "{{literal}}" + {d}_helper({c}s)
''',
    '''

@dataclass(frozen=True)
class {A}({B}):
    """A record of {a}."""

    {a}: int
    """The {a}: a docstring under a field."""
    {b}s: list[str] = field(default_factory=list)

    @property
    def {c}(self) -> int:
        return self.{a} + len(self.{b}s)

    @staticmethod
    def {d}({e}: Iterable[int]) -> int:
        return sum({e}) if {e} else {A_UPPER}_LIMIT

    class {C}:
        """A class in a class."""

        def {e}(self, {a}):
            return {a}.{b} or {d}_helper(self)
''',
    '''

async def {a}_{c}({b}, {d}=None):
    async with {b}.{c}() as {e}:
        async for {a} in {e}:
            await {d}_helper({a}, timeout={d} or 1.0)
    return [{a} async for {a} in {b}]
''',
    '''

def {a}_{d}(
    {b}: str,
    {c}: "{C} | None" = None,
) -> Iterator[str]:
    def {e}({a}):
        nonlocal {b}
        {b} = {b} + {a}
        return lambda {d}: {d} + {a}

    for {a} in regex.split(r"[,;\\s]+", {b}):
        yield {e}({a})(os.sep)
''',
    '''

class {A}{B}:
    {a} = {B_UPPER}_TABLE["{a}"]

    def __init__(self, {b}: "{A}{B}" | None = None) -> None:
        self.{b} = {b}
        self._{c}: dict[str, int] = {{}}

    def {d}(self, {e}: str) -> int:
        try:
            return self._{c}[{e}]
        except KeyError as error:
            raise ValueError(f"no {{{e}}} in {{self.{b}!s}}") from error
        finally:
            self.{a} += 1

    def __repr__(self) -> str:
        return f"{A}{B}({{self.{a}}}, {{self._{c}!r:>12}})"
''',
    '''

def {a}_{e}({b}, {c}):
    with open({b}) as {d}, open({c}, "w") as {e}:
        {e}.write({d}.read() + \\
                  "continued")
    global {A_UPPER}_LIMIT
    {A_UPPER}_LIMIT = max({A_UPPER}_LIMIT, len({b}))
    return {{{a}: [{b}[i] for i in range(3)] for {a} in (1, 2)}}
''',
    '''

{A_UPPER}_{B_UPPER} = 5


def {b}_{a}(*, {c}: int = {A_UPPER}_{B_UPPER}) -> bytes:
    """Strings that look like code: 'def x(): pass', "class Y: ..." and comments '# z'."""
    text = b"def {c}(): pass" + rb"\\d+" + """class {C}:
    pass"""
    return text * {c} if json is not None else b""
''',
)


def sample_module(seed: int, blocks: int = 24) -> str:
    """A valid module of about ``blocks`` definitions, the same for the same seed."""
    rng = random.Random(seed)

    def names() -> dict[str, str]:
        words = rng.sample(WORDS, 5)
        lower = dict(zip("abcde", words))
        upper = {key.upper(): word.capitalize() for key, word in lower.items()}
        shouting = {f"{key.upper()}_UPPER": word.upper() for key, word in lower.items()}
        return {**lower, **upper, **shouting}

    header = names()
    parts = [HEADER.format(**header)]
    for _ in range(blocks):
        parts.append(rng.choice(BLOCKS).format(**{**names(), "A_UPPER": header["A_UPPER"], "B_UPPER": header["B_UPPER"]}))
    return "".join(parts)
