"""Verification of proposed edits in a shadow copy of the workspace. Never imports pygls."""
