"""Assistant actions, one module each: prompts in, results out. Never imports pygls."""
