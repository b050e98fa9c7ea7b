-- Client-side handlers for the gemma-lsp client only: the streamed text goes to the float,
-- progress to the statusline, and the explanation document is remembered for :GemmaContext.
-- Each one calls Neovim's own handler afterwards, so LspProgress and showDocument behave as usual.
local stream = require("gemma_lsp.stream")
local status = require("gemma_lsp.status")

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
    end
    return default("window/showDocument")(err, result, ctx, config)
  end,
}
