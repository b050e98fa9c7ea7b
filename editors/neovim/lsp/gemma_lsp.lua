-- gemma-lsp for Neovim 0.11+: found on the runtimepath by vim.lsp.config / vim.lsp.enable.
--
--   vim.lsp.enable("gemma_lsp")                       -- the server only
--   require("gemma_lsp").setup({ ... })               -- the server plus :Gemma* commands
--
-- Override any field with vim.lsp.config("gemma_lsp", { cmd = { ... } }).
return {
  cmd = { "gemma-lsp", "serve" },
  filetypes = { "python" },
  root_markers = { "pyproject.toml", "setup.py", "setup.cfg", ".git" },
  handlers = require("gemma_lsp.handlers"),
  on_init = function(client)
    require("gemma_lsp.status").refresh(client) -- the statusline names the model from the start
  end,
}
