-- Client-side handlers for the gemma-lsp client only: the streamed text goes to the float,
-- progress to the statusline, and the explanation document is remembered for :GemmaContext.
-- Each one calls Neovim's own handler afterwards, so LspProgress and showDocument behave as usual.
local stream = require("gemma_lsp.stream")
local status = require("gemma_lsp.status")

-- An edit that failed verification is not offered: the server shows a document that says so
-- (why, in terms of the user's code, and what they can do); say its first line where the user
-- looks, since nothing changed in the buffer, and mark the float's request rejected.
local function failed_proposal(uri)
  local path = vim.uri_to_fname(uri)
  local file = path:match("%.md$") and io.open(path, "r")
  if not file then
    return
  end
  local text = file:read("*a") or ""
  file:close()
  local verdict = text:match("([^\n]*failed verification and was not offered[^\n]*)")
  if verdict then
    local reason = verdict:match("was not offered: (.-)%.?$") or verdict
    stream.verdict("rejected", reason)
    vim.notify("gemma-lsp: " .. verdict .. " Nothing changed; the details are in the window beside (:GemmaContext).", vim.log.levels.WARN)
  end
end

-- The result document (an explanation, a refused edit) in the window Neovim opened for it, rendered.
local function render_shown(uri)
  if not uri:match("%.md$") then
    return
  end
  local buf = vim.uri_to_bufnr(uri)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    stream.rendered(win)
  end
end

local function default(method)
  return vim.lsp.handlers[method]
end

return {
  ["gemma/stream"] = function(_, params)
    stream.on_stream(params)
  end,

  ["$/progress"] = function(err, result, ctx, config)
    status.on_progress(result, ctx)
    return default("$/progress")(err, result, ctx, config)
  end,

  ["window/showDocument"] = function(err, result, ctx, config)
    if result and result.uri then
      stream.last_document = result.uri
      failed_proposal(result.uri)
    end
    local answer = default("window/showDocument")(err, result, ctx, config)
    if result and result.uri then
      render_shown(result.uri)
    end
    return answer
  end,
}
