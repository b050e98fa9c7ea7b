-- Progress of the gemma-lsp client and what the server runs (gemma/status), for the statusline:
--   vim.o.statusline = "%f %= %{v:lua.require'gemma_lsp'.status()}"
-- Neovim 0.10+ also fires the LspProgress autocommand for the same reports.
local M = {}

local active = {} -- [client_id .. token] = { title, message, percentage }
local servers = {} -- [client_id] = the last gemma/status answer

local function request(client, method, params, handler)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:request(method, params, handler)
  end
  return client.request(method, params, handler)
end

local polling = {} -- [client_id] = true while a refresh is scheduled

--- Asks the server for gemma/status (cheap: it never loads the model); redraws the statusline.
--- While the server says it is busy (a request finishing, another editor's), asks again each second.
function M.refresh(client, callback)
  request(client, "gemma/status", vim.empty_dict(), function(err, result)
    if err or type(result) ~= "table" then
      return -- an older server without gemma/status: the statusline shows progress only
    end
    servers[client.id] = result
    vim.cmd("redrawstatus")
    if result.busy and not polling[client.id] then
      polling[client.id] = true
      vim.defer_fn(function()
        polling[client.id] = nil
        local alive = vim.lsp.get_client_by_id(client.id)
        if alive then
          M.refresh(alive)
        end
      end, 1000)
    end
    if callback then
      callback(result)
    end
  end)
end

--- The token count, named: "prompt 1185 of 2048 tokens" (the model's count of the last prompt, as
--- the explanation document says it), else "context est. 958 of 2048 tokens" (an older server's
--- estimate of the packed context), else "window 2048 tokens".
function M.tokens(server)
  local prompt = server.prompt_tokens_last ~= vim.NIL and server.prompt_tokens_last or nil
  local context = server.context_tokens_last ~= vim.NIL and server.context_tokens_last or nil
  if prompt then
    return ("prompt %d of %d tokens"):format(prompt, server.n_ctx)
  elseif context then
    return ("context est. %d of %d tokens"):format(context, server.n_ctx)
  end
  return ("window %d tokens"):format(server.n_ctx)
end

--- "Gemma 3 270M, CPU, prompt 312 of 2048 tokens"; with `full`, also the GPU layers, loading and requests.
function M.describe(server, full)
  local text = ("%s, %s, %s"):format(server.model, string.upper(server.backend), M.tokens(server))
  if full then
    text = text .. (", %d GPU layers, %s, %d request(s) running"):format(server.gpu_layers, server.loaded and "loaded" or "loads on the first request", server.running)
  end
  return text
end

function M.on_progress(result, ctx)
  if type(result) ~= "table" or type(result.value) ~= "table" then
    return
  end
  local key = tostring(ctx.client_id) .. ":" .. tostring(result.token)
  local value = result.value
  if value.kind == "end" then
    active[key] = nil
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    if client then
      M.refresh(client) -- the context just used, and whether more work is queued
    end
  else
    local entry = active[key] or {}
    entry.title = value.title or entry.title
    entry.message = value.message or entry.message
    entry.percentage = value.percentage or entry.percentage
    active[key] = entry
  end
  vim.cmd("redrawstatus")
end

--- "gemma: idle (<model>, CPU, prompt 312 of 2048 tokens)", "gemma: <title>: <message>" while a request of
--- this editor runs, "gemma: busy (...)" while the server works for another, "" without a client.
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
  local server = servers[clients[1].id]
  if not server then
    return "gemma: idle"
  end
  return ("gemma: %s (%s)"):format(server.busy and "busy" or "idle", M.describe(server))
end

function M.busy()
  return next(active) ~= nil
end

function M.reset()
  active = {}
  servers = {}
end

return M
