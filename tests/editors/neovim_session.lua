-- A headless Neovim session that uses the shipped plugin the way a user does (runtimepath +
-- setup + :Gemma* commands) against the real server and model, and records what it saw as JSON
-- for test_neovim.py to check. Run: nvim --headless --clean -l neovim_session.lua
-- Environment: GEMMA_PLUGIN (editors/neovim), GEMMA_PYTHON, GEMMA_WORKSPACE, GEMMA_RESULTS.
local plugin, python = vim.env.GEMMA_PLUGIN, vim.env.GEMMA_PYTHON
local workspace, results_path = vim.env.GEMMA_WORKSPACE, vim.env.GEMMA_RESULTS
local TIMEOUT = tonumber(vim.env.GEMMA_STEP_TIMEOUT_MS or "300000")

local results = { notices = {}, progress = {}, status_samples = {}, requests = {} }

local function save()
  local file = assert(io.open(results_path, "w"))
  file:write(vim.json.encode(results))
  file:close()
end

local function wait_for(step, condition)
  if not vim.wait(TIMEOUT, condition, 50) then
    results.failed_step = step
    save()
    io.stderr:write("timed out: " .. step .. "\n")
    vim.cmd("cquit 1")
  end
end

vim.notify = function(message, level)
  table.insert(results.notices, { message = tostring(message), level = level or vim.log.levels.INFO })
end

vim.opt.rtp:prepend(plugin)
local gemma = require("gemma_lsp")

vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    local value = args.data.params.value
    table.insert(results.progress, {
      client = client and client.name,
      token = tostring(args.data.params.token),
      kind = value.kind,
      title = value.title,
      message = value.message,
    })
    table.insert(results.status_samples, gemma.status())
  end,
})

vim.api.nvim_create_autocmd("LspRequest", {
  callback = function(args)
    local request = args.data.request
    table.insert(results.requests, { id = args.data.request_id, method = request.method, type = request.type })
  end,
})

gemma.setup({
  python = python,
  settings = { model = { nCtx = 2048, maxTokens = tonumber(vim.env.GEMMA_MAX_TOKENS), temperature = 0 }, logLevel = "info" },
})

local function gemma_client()
  return gemma.clients()[1]
end

local function float_window()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= "" then
      return win
    end
  end
end

local function float_text()
  local win = float_window()
  return win and table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), "\n")
end

local function float_title()
  local win = float_window()
  local title = win and vim.api.nvim_win_get_config(win).title
  if type(title) == "table" then -- [[text, highlight], ...]
    return table.concat(vim.tbl_map(function(chunk) return chunk[1] end, title))
  end
  return title
end

local function progress_end_count()
  return #vim.tbl_filter(function(p) return p.kind == "end" end, results.progress)
end

-- 1. The server starts for a Python buffer and offers its actions in the code action menu.
local cart = workspace .. "/shop/cart.py"
vim.cmd.edit(cart)
local source_buf = vim.api.nvim_get_current_buf()
wait_for("client attaches", function()
  local client = gemma_client()
  return client ~= nil and client.initialized and vim.lsp.buf_is_attached(source_buf, client.id)
end)
results.first_client = gemma_client().id
results.status_idle = gemma.status()

local function menu_titles()
  local titles
  vim.ui.select = function(items, opts, on_choice)
    titles = vim.tbl_map(function(item) return opts.format_item(item) end, items)
    on_choice(nil)
  end
  vim.lsp.buf.code_action()
  wait_for("code action menu", function() return titles ~= nil end)
  return titles
end

vim.api.nvim_win_set_cursor(0, { 13, 8 }) -- inside Cart.total
results.menu = menu_titles()

-- 2. :GemmaExplain streams into the float, reports progress, opens the explanation document.
vim.cmd("GemmaExplain")
wait_for("explanation streamed", function()
  local title = float_title()
  return title ~= nil and title:find("(done)", 1, true) ~= nil and progress_end_count() >= 1
end)
wait_for("explanation document", function() return require("gemma_lsp.stream").last_document ~= nil end)
results.explain = {
  float_text = float_text(),
  float_title = float_title(),
  document = vim.uri_to_fname(require("gemma_lsp.stream").last_document),
}
vim.cmd("GemmaContext")
results.explain.context_buffer = vim.api.nvim_buf_get_name(0)
results.explain.context_conceal = vim.wo.conceallevel
results.explain.context_filetype = vim.bo.filetype
results.explain.float_conceal = float_window() and vim.wo[float_window()].conceallevel
vim.cmd("only")
vim.cmd.buffer(source_buf)

-- 3. :GemmaExplainComment: codeAction/resolve returns an edit that Neovim applies to the buffer.
local before = vim.api.nvim_buf_get_lines(source_buf, 0, -1, false)
local tick = vim.b[source_buf].changedtick
vim.api.nvim_win_set_cursor(0, { 19, 4 }) -- inside count_items
local ends = progress_end_count()
vim.cmd("GemmaExplainComment")
wait_for("comment request done", function()
  return vim.b[source_buf].changedtick ~= tick or (progress_end_count() > ends and next(gemma_client().requests) == nil)
end)
results.comment = {
  before = table.concat(before, "\n") .. "\n",
  after = table.concat(vim.api.nvim_buf_get_lines(source_buf, 0, -1, false), "\n") .. "\n",
}
vim.cmd("silent undo")
results.comment.after_undo = table.concat(vim.api.nvim_buf_get_lines(source_buf, 0, -1, false), "\n") .. "\n"

-- 4. :GemmaCancel as soon as the next request reports progress: the request ends cancelled.
local begins = #vim.tbl_filter(function(p) return p.kind == "begin" end, results.progress)
vim.api.nvim_win_set_cursor(0, { 6, 6 }) -- on class Cart
local cancelled
vim.api.nvim_create_autocmd("LspProgress", {
  pattern = "begin",
  once = true,
  callback = function()
    vim.schedule(function() cancelled = gemma.cancel() end)
  end,
})
vim.cmd("GemmaExplain")
wait_for("cancelled request ends", function()
  local n = #vim.tbl_filter(function(p) return p.kind == "begin" end, results.progress)
  return n > begins and cancelled ~= nil and progress_end_count() >= 3 and next(gemma_client().requests) == nil
end)
results.cancel = {
  count = cancelled,
  last_end = results.progress[#results.progress],
  last_document = vim.uri_to_fname(require("gemma_lsp.stream").last_document),
}

-- 5. The statusline names the model, where it runs and the context in use (gemma/status).
wait_for("status from the server", function() return gemma.status():find("^gemma: idle %(.*prompt %d+ of %d+ tokens%)$") ~= nil end)
results.status_server = gemma.status()
local notices_before_status = #results.notices
vim.cmd("GemmaStatus")
wait_for(":GemmaStatus", function() return #results.notices > notices_before_status end)
results.status_command = results.notices[#results.notices].message

-- 6. Edit actions through the built-in code action flow: resolved to a verified edit and applied,
-- or (the proposal failed verification) nothing changed and the failure shown.
local client = gemma_client()
client.settings.gemmaLsp.model.maxTokens = 96 -- room for a function body
client:notify("workspace/didChangeConfiguration", { settings = client.settings })
local resolved_data = {}
local request = client.request
client.request = function(self, method, params, ...)
  if method == "codeAction/resolve" then
    table.insert(resolved_data, vim.deepcopy(params.data))
  end
  return request(self, method, params, ...)
end

--- Runs an Ex command at (row, col) of `path` and waits until its request is done.
local function edit_step(path, row, col, command)
  vim.cmd.edit(path)
  local buf = vim.api.nvim_get_current_buf()
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local step = { before = table.concat(lines, "\n") .. "\n", notices_before = #results.notices }
  vim.api.nvim_win_set_cursor(0, { row, col })
  local tick, resolves = vim.b[buf].changedtick, #resolved_data
  vim.cmd(command)
  wait_for(command .. " done", function()
    return #resolved_data > resolves and next(gemma_client().requests) == nil
      and (vim.b[buf].changedtick ~= tick or #results.notices > step.notices_before)
  end)
  step.after = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n"
  step.data = resolved_data[#resolved_data]
  step.notices = vim.list_slice(results.notices, step.notices_before + 1)
  step.float_title = float_title()
  step.float_conceal = float_window() and vim.wo[float_window()].conceallevel
  step.shown_windows = {}
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    local name = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win))
    if name:match("%.md$") then
      table.insert(step.shown_windows, { name = name, conceal = vim.wo[win].conceallevel, filetype = vim.bo[vim.api.nvim_win_get_buf(win)].filetype })
    end
  end
  if step.after ~= step.before then
    vim.cmd("silent undo")
    step.after_undo = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n"
  end
  return step
end

results.implement = edit_step(workspace .. "/shop/stubs.py", 4, 6, "GemmaImplement")

local prompts = {}
vim.ui.input = function(opts, on_confirm)
  table.insert(prompts, opts.prompt)
  on_confirm("use early returns")
end
results.refactor = edit_step(workspace .. "/shop/pricing.py", 4, 6, "GemmaRefactor")
results.refactor.prompts = prompts

local function text_of(path)
  local buf = vim.fn.bufnr(path)
  if buf ~= -1 and vim.api.nvim_buf_is_loaded(buf) then
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n"
  end
  local file = io.open(path, "r")
  local text = file and file:read("*a")
  if file then
    file:close()
  end
  return text
end

local function write_file(path, text)
  local file = assert(io.open(path, "w"))
  file:write(text)
  file:close()
end

-- 7. :write of a file with a new public function: the server's stub tests arrive as an edit
-- that creates tests/test_taxes.py (workspace/applyEdit, applied by Neovim to a buffer).
local extra = vim.json.decode(vim.env.GEMMA_EXTRA_FILES)
local taxes, taxes_tests = workspace .. "/shop/taxes.py", workspace .. "/tests/test_taxes.py"
write_file(taxes, extra.taxes_before)
vim.cmd.edit(taxes)
vim.api.nvim_buf_set_lines(0, 0, -1, false, vim.split(vim.trim(extra.taxes_after), "\n"))
vim.cmd("silent write")
wait_for("stub tests", function()
  local text = text_of(taxes_tests)
  return text ~= nil and text:find("add_tax", 1, true) ~= nil
end)
results.on_save = {
  source = text_of(taxes),
  tests = text_of(taxes_tests),
  buffer_modified = vim.bo[vim.fn.bufnr(taxes_tests)].modified,
}
-- The user reviews the new test buffer and writes it.
vim.cmd.buffer(vim.fn.bufnr(taxes_tests))
vim.cmd("silent write")
results.on_save.written = vim.uv.fs_stat(taxes_tests) ~= nil

-- 8. :GemmaFixTest on a failing assert: the fix (verified by running the tests) is applied, or
-- nothing changes and the failure is shown; the analysis document opens either way.
local stats, stats_tests = workspace .. "/shop/stats.py", workspace .. "/tests/test_stats.py"
write_file(stats, extra.stats)
write_file(stats_tests, extra.stats_tests)
client.settings.gemmaLsp.model.maxTokens = 160
client:notify("workspace/didChangeConfiguration", { settings = client.settings })
vim.cmd.edit(stats_tests)
vim.api.nvim_win_set_cursor(0, { 9, 4 }) -- the assert of test_median_of_even_count
local resolves, notices_before = #resolved_data, #results.notices
vim.cmd("GemmaFixTest")
wait_for("fix test done", function()
  return #resolved_data > resolves and next(gemma_client().requests) == nil
end)
results.fix_test = {
  data = resolved_data[#resolved_data],
  code_after = text_of(stats),
  tests_after = text_of(stats_tests),
  notices = vim.list_slice(results.notices, notices_before + 1),
  document = require("gemma_lsp.stream").last_document and vim.uri_to_fname(require("gemma_lsp.stream").last_document),
}
client.request = request
vim.cmd.buffer(source_buf)

-- 9. :GemmaRestart: a new server process serves the same buffer.
vim.cmd("GemmaRestart")
wait_for("restarted", function()
  local client = gemma_client()
  return client ~= nil and client.id ~= results.first_client and client.initialized
    and vim.lsp.buf_is_attached(source_buf, client.id)
end)
results.restarted_client = gemma_client().id
vim.api.nvim_win_set_cursor(0, { 13, 8 })
results.menu_after_restart = menu_titles()

results.ok = true
save()
vim.cmd("qall!")
