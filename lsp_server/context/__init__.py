"""Choosing and packing the code a model sees. Never imports pygls."""
