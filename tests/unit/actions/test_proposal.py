"""A rewrite using a name its module never imported gets the import above the target."""

from pathlib import Path

from lsp_server.actions.proposal import propose_rewrite
from lsp_server.config import VerifySettings
from lsp_server.context.target import find_target
from lsp_server.index.python_symbols import parse_python

MODULE = '"""Money."""\n\nimport math\n\n\ndef total(values):\n    return sum(values)\n'
NEW = "def total(values):\n    return Decimal(sum(values)).quantize(Decimal('0.01'))\n"
KNOWN = {"Decimal": "from decimal import Decimal"}


def _propose(tmp_path: Path, module: str, known):
    path = tmp_path / "money.py"
    path.write_text(module)
    line = module.splitlines().index("def total(values):")
    target = find_target(path, module, parse_python(module), (line, 4), (line, 4))
    return propose_rewrite(module, target, NEW, tmp_path, [], VerifySettings(timeout_seconds=30), NEW, known=known)


def apply(module: str, proposal) -> str:
    lines = module.splitlines(keepends=True)
    lines[proposal.start_line : proposal.end_line] = [proposal.new_text]
    lines[proposal.imports_line : proposal.imports_line] = [proposal.imports]
    return "".join(lines)


def test_the_import_goes_after_the_module_imports_and_is_verified(tmp_path):
    proposal = _propose(tmp_path, MODULE, KNOWN)
    assert proposal.verification.ok, proposal.verification.summary()
    assert (proposal.imports, proposal.imports_line) == ("from decimal import Decimal\n", 3)
    assert "added from decimal import Decimal" in proposal.verification.summary()
    assert apply(MODULE, proposal) == '"""Money."""\n\nimport math\nfrom decimal import Decimal\n\n\n' + NEW


def test_without_known_names_lint_still_refuses(tmp_path):
    proposal = _propose(tmp_path, MODULE, None)
    assert not proposal.verification.ok and "F821" in proposal.verification.summary()
    assert proposal.imports == ""


def test_no_import_lands_where_the_replaced_lines_start(tmp_path):
    module = "def total(values):\n    return sum(values)\n"
    proposal = _propose(tmp_path, module, KNOWN)
    assert proposal.imports == "" and not proposal.verification.ok
