"""Workspace index: tree-sitter parsing and symbol facts. Never imports pygls."""
