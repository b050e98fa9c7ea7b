-- The plugin's Neovim 0.8-0.10 path (FileType autocommand + vim.lsp.start) run on 0.11 by hiding
-- "nvim-0.11" from the plugin: the server starts for a Python buffer and offers its actions.
-- Environment: GEMMA_PLUGIN, GEMMA_PYTHON, GEMMA_WORKSPACE, GEMMA_RESULTS.
local has = vim.fn.has
vim.fn.has = function(feature)
  return feature == "nvim-0.11" and 0 or has(feature)
end

local results = {}
local function finish(code)
  local file = assert(io.open(vim.env.GEMMA_RESULTS, "w"))
  file:write(vim.json.encode(results))
  file:close()
  vim.cmd(code == 0 and "qall!" or "cquit 1")
end

vim.opt.rtp:prepend(vim.env.GEMMA_PLUGIN)
local gemma = require("gemma_lsp")
gemma.setup({ python = vim.env.GEMMA_PYTHON, settings = { model = { nCtx = 2048 } } })
vim.cmd.edit(vim.env.GEMMA_WORKSPACE .. "/shop/cart.py")
local buf = vim.api.nvim_get_current_buf()
local attached = vim.wait(60000, function()
  local client = gemma.clients()[1]
  return client ~= nil and client.initialized and vim.lsp.buf_is_attached(buf, client.id)
end, 50)
results.attached = attached
results.enabled_by_0_11_api = vim.lsp.is_enabled("gemma_lsp")
if not attached then
  finish(1)
end
results.root_dir = gemma.clients()[1].root_dir
vim.api.nvim_win_set_cursor(0, { 13, 8 })
vim.ui.select = function(items, opts, on_choice)
  results.menu = vim.tbl_map(function(item) return opts.format_item(item) end, items)
  on_choice(nil)
end
vim.lsp.buf.code_action()
vim.wait(30000, function() return results.menu ~= nil end, 50)
finish(results.menu and 0 or 1)
