-- :GemmaChange in headless Neovim against the real server and a scripted team server (its URL in
-- GEMMA_TEAM_URL): the proposal's changes go to the quickfix list, and the edit is applied only
-- when the user answers Apply (GEMMA_ANSWER). Records what it saw as JSON in GEMMA_RESULTS.
local plugin, python = vim.env.GEMMA_PLUGIN, vim.env.GEMMA_PYTHON
local workspace, results_path = vim.env.GEMMA_WORKSPACE, vim.env.GEMMA_RESULTS
local results = { notices = {} }

local function save()
  local file = assert(io.open(results_path, "w"))
  file:write(vim.json.encode(results))
  file:close()
end

vim.notify = function(message, level)
  table.insert(results.notices, { message = tostring(message), level = level or vim.log.levels.INFO })
end
vim.ui.select = function(choices, opts, on_choice)
  results.asked = opts.prompt
  results.choices = choices
  on_choice(vim.env.GEMMA_ANSWER)
end

vim.opt.rtp:prepend(plugin)
local gemma = require("gemma_lsp")
gemma.setup({
  python = python,
  settings = {
    backend = "openai",
    remote = { url = vim.env.GEMMA_TEAM_URL, model = "fake-gemma", retries = 0 },
    model = { promptStyle = "chat" },
    verify = { timeoutSeconds = 60 },
  },
})

vim.cmd("edit " .. vim.fn.fnameescape(workspace .. "/shop/cart.py"))
if not vim.wait(60000, function() return gemma.clients()[1] ~= nil and gemma.clients()[1].initialized end, 50) then
  results.failed_step = "start"
  save()
  vim.cmd("cquit 1")
end
local finished = nil
gemma.change({ args = vim.env.GEMMA_INSTRUCTION, range = 2, line1 = 14, line2 = 14, bang = false }, function(applied)
  finished = applied
end)
if not vim.wait(300000, function() return finished ~= nil end, 50) then
  results.failed_step = "change"
  save()
  vim.cmd("cquit 1")
end
results.applied = finished
results.quickfix = vim.tbl_map(function(item)
  return { file = vim.fn.fnamemodify(vim.fn.bufname(item.bufnr), ":t"), lnum = item.lnum, text = item.text }
end, vim.fn.getqflist())
results.quickfix_title = vim.fn.getqflist({ title = 1 }).title
vim.cmd("silent! wall")
results.ok = true
save()
vim.cmd("qall!")
