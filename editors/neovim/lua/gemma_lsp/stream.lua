-- A floating window that follows one request at a time as the server streams it (`gemma/stream`:
-- {id, uri, title, delta, done, thinking?, stage?, outcome?, message?}). One float, reused: a new
-- stream id clears it; its title says "(done)", "(cancelled)", "(failed)" or "(rejected: why)" at
-- the end. The answer is Markdown, shown rendered: filetype markdown, its markup concealed. A
-- thinking model's thought (`thinking`, before any answer) is shown until the answer starts.
-- Progress (what the server is doing) has one place: the statusline (status.lua).
local M = {
  options = { width = 80, max_height = 20, border = "rounded" },
  last_document = nil, -- uri of the last explanation shown through window/showDocument
}

local state = { id = nil, buf = nil, win = nil, thinking = false, title = "gemma-lsp", seen = {} }

local function ensure_buffer()
  if state.buf and vim.api.nvim_buf_is_valid(state.buf) then
    return state.buf
  end
  state.buf = vim.api.nvim_create_buf(false, true)
  vim.bo[state.buf].filetype = "markdown"
  vim.bo[state.buf].bufhidden = "hide"
  vim.keymap.set("n", "q", M.close, { buffer = state.buf, desc = "Close the gemma-lsp window" })
  return state.buf
end

local function window_config(title, height)
  local width = math.max(20, math.min(M.options.width, vim.o.columns - 4))
  local config = {
    relative = "editor",
    row = 1,
    col = math.max(0, vim.o.columns - width - 2),
    width = width,
    height = math.max(1, math.min(height, M.options.max_height, vim.o.lines - 4)),
    style = "minimal",
    border = M.options.border,
    focusable = true,
  }
  if vim.fn.has("nvim-0.9") == 1 then
    config.title = " " .. title .. " "
  end
  return config
end

local function show(title)
  local buf = ensure_buffer()
  local config = window_config(title, vim.api.nvim_buf_line_count(buf))
  if state.win and vim.api.nvim_win_is_valid(state.win) then
    vim.api.nvim_win_set_config(state.win, config)
  else
    state.win = vim.api.nvim_open_win(buf, false, config)
    M.rendered(state.win)
  end
end

--- Shows a Markdown window rendered rather than raw: markup concealed (`#`, backticks, link
--- targets), lines wrapped, and tree-sitter's markdown highlighting where the parser is installed.
function M.rendered(win)
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  vim.wo[win].conceallevel = 2
  vim.wo[win].concealcursor = "nc"
  pcall(vim.treesitter.start, vim.api.nvim_win_get_buf(win), "markdown")
end

--- The float's title for the end state `outcome` ("done", "cancelled", "failed", "rejected").
function M.end_title(title, outcome, message)
  if outcome == "rejected" then
    return ("%s (rejected: %s)"):format(title, message ~= nil and message ~= "" and message or "it failed verification")
  end
  return ("%s (%s)"):format(title, outcome or "done")
end

local function append(buf, text)
  local last = vim.api.nvim_buf_line_count(buf) - 1
  local tail = vim.api.nvim_buf_get_lines(buf, last, last + 1, false)[1] or ""
  local pieces = vim.split(tail .. text, "\n", { plain = true })
  vim.api.nvim_buf_set_lines(buf, last, last + 1, false, pieces)
end

function M.on_stream(params)
  if type(params) ~= "table" then
    return
  end
  local buf = ensure_buffer()
  if params.id ~= state.id then
    if state.seen[params.id] then
      return -- a late word from a request the float has left behind
    end
    state.seen[params.id] = true
    state.id = params.id
    state.thinking = false
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "" })
  end
  local delta = params.delta or ""
  if type(params.thinking) == "string" and params.thinking ~= "" then
    if not state.thinking then
      state.thinking = true
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "" })
    end
    append(buf, params.thinking)
  end
  if delta ~= "" and state.thinking then -- the answer replaces the thought
    state.thinking = false
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "" })
  end
  append(buf, delta)
  state.title = params.title or "gemma-lsp"
  local outcome = params.outcome ~= vim.NIL and params.outcome or nil
  local message = params.message ~= vim.NIL and params.message or nil
  show(params.done and M.end_title(state.title, outcome, message) or (state.title .. (state.thinking and " (thinking) ..." or " ...")))
end

--- How the shown request ended, when the editor learns it apart from the stream (a refused edit).
function M.verdict(outcome, message)
  if state.id then
    show(M.end_title(state.title, outcome, message))
  end
end

function M.close()
  if state.win and vim.api.nvim_win_is_valid(state.win) then
    vim.api.nvim_win_close(state.win, true)
  end
  state.win = nil
end

--- The float's window id, or nil when it is not open.
function M.window()
  return state.win and vim.api.nvim_win_is_valid(state.win) and state.win or nil
end

return M
