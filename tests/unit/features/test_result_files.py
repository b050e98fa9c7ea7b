"""Result documents (explanations, refused edits, fixes): one naming scheme, one folder per workspace."""

from pathlib import Path

from lsp_server.features import explain


def test_every_action_names_its_document_the_same_way(tmp_path, monkeypatch):
    monkeypatch.setattr(explain, "cache_dir", lambda: tmp_path)
    root = Path("/work/billing")
    explained = explain.result_file(root, "explain", root / "recurring.py", "RecurringInvoice.prorate")
    refused = explain.result_file(root, "generate-tests", root / "recurring.py", "RecurringInvoice.prorate")
    fixed = explain.result_file(root, "fix-test", root / "tests" / "test_recurring.py", "test_prorate")
    assert explained.name == "explain-recurring-RecurringInvoice.prorate.md"
    assert refused.name == "generate-tests-recurring-RecurringInvoice.prorate.md"
    assert fixed.name == "fix-test-test_recurring-test_prorate.md"
    assert explained.parent == refused.parent == fixed.parent
    assert explained.parent.parent == tmp_path / "results" and explained.parent.name.startswith("billing-")


def test_two_workspaces_of_the_same_name_keep_their_documents_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(explain, "cache_dir", lambda: tmp_path)
    one = explain.result_file(Path("/a/app"), "explain", Path("/a/app/m.py"), "f")
    other = explain.result_file(Path("/b/app"), "explain", Path("/b/app/m.py"), "f")
    assert one.parent != other.parent and one.name == other.name
