-- Progress of the gemma-lsp client for the statusline:
--   vim.o.statusline = "%f %= %{v:lua.require'gemma_lsp'.status()}"
-- Neovim 0.10+ also fires the LspProgress autocommand for the same reports.
local M = {}

local active = {} -- [client_id .. token] = { title, message, percentage }

function M.on_progress(result, ctx)
  if type(result) ~= "table" or type(result.value) ~= "table" then
    return
  end
  local key = tostring(ctx.client_id) .. ":" .. tostring(result.token)
  local value = result.value
  if value.kind == "end" then
    active[key] = nil
  else
    local entry = active[key] or {}
    entry.title = value.title or entry.title
    entry.message = value.message or entry.message
    entry.percentage = value.percentage or entry.percentage
    active[key] = entry
  end
  vim.cmd("redrawstatus")
end

--- "gemma: idle", "gemma: <title>: <message>" while busy, "" when no gemma-lsp client runs.
function M.text(clients)
  if #clients == 0 then
    return ""
  end
  for _, entry in pairs(active) do
    local text = "gemma: " .. (entry.title or "working")
    if entry.message and entry.message ~= "" then
      text = text .. ": " .. entry.message
    end
    return text
  end
  return "gemma: idle"
end

function M.busy()
  return next(active) ~= nil
end

function M.reset()
  active = {}
end

return M
