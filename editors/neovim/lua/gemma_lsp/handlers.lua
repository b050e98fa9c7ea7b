-- Client-side handlers for the gemma-lsp client only: the streamed text goes to the float,
-- progress to the statusline, and the explanation document is remembered for :GemmaContext.
-- Each one calls Neovim's own handler afterwards, so LspProgress and showDocument behave as usual.
local stream = require("gemma_lsp.stream")
local status = require("gemma_lsp.status")

-- An edit that failed verification is not offered: the server shows a document that says so;
-- say it where the user looks, since nothing changed in the buffer.
local function failed_proposal(uri)
  local path = vim.uri_to_fname(uri)
  local file = path:match("%.md$") and io.open(path, "r")
  if not file then
    return
  end
  local text = file:read("*a") or ""
  file:close()
  if text:find("failed verification and was not offered", 1, true) then
    vim.notify("gemma-lsp: the proposed edit failed verification and was not offered; nothing changed (see " .. vim.fn.fnamemodify(path, ":t") .. ")", vim.log.levels.WARN)
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
    return default("window/showDocument")(err, result, ctx, config)
  end,
}
