"""gemma-quantize: make, choose and check the right Gemma GGUF for the user's GPU."""
