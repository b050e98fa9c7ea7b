"""Model backends: the Backend protocol and the in-process llama.cpp backend. Never imports pygls."""
