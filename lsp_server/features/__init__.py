"""LSP features, one module each: a few lines translating LSP to the pure layers and back."""
