"""The one compiled part of gemma-lsp: the index's tree reader (lsp_server/index/native).

Everything else is declared in pyproject.toml. The extension is optional: where no C compiler is
found the install goes on, and the index reads trees in Python (the same facts, about a fifth of
the parse's time slower on a cold index).
"""

from setuptools import Extension, setup

NATIVE = "lsp_server/index/native"

setup(
    ext_modules=[
        Extension(
            "lsp_server.index._treescan",
            sources=[f"{NATIVE}/treescan.c", f"{NATIVE}/tree_sitter/src/lib.c"],
            include_dirs=[f"{NATIVE}/tree_sitter/include", f"{NATIVE}/tree_sitter/src"],
            # As py-tree-sitter builds the same library: its symbols stay inside this module.
            define_macros=[("_POSIX_C_SOURCE", "200112L"), ("_DEFAULT_SOURCE", None), ("TREE_SITTER_HIDE_SYMBOLS", None)],
            extra_compile_args=["-std=c11", "-fvisibility=hidden", "-Wno-cast-function-type"],
            optional=True,
        )
    ],
)
