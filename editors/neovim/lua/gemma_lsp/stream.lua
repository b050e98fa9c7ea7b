-- A floating window that shows an answer as the server streams it (`gemma/stream`:
-- {id, uri, title, delta, done, thinking?}). One float, reused: a new stream id clears it. A
-- thinking model's thought (`thinking`, before any answer) is shown until the answer starts.
local M = {
  options = { width = 80, max_height = 20, border = "rounded" },
  last_document = nil, -- uri of the last explanation shown through window/showDocument
}

local state = { id = nil, buf = nil, win = nil, thinking = false }

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
    vim.wo[state.win].wrap = true
  end
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
  local title = params.title or "gemma-lsp"
  show(params.done and (title .. " (done)") or (title .. (state.thinking and " (thinking) ..." or " ...")))
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
