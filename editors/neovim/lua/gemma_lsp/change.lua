-- :GemmaChange: a change from an instruction, across files. The server proposes and verifies it
-- (codeAction/resolve of its "change" action); the changes are listed in the quickfix list and
-- applied as one undoable edit only when the user says so. :GemmaChange! refines the last proposal.
local M = {}

--- The lines of `uri` (the buffer's when it is loaded, else the file's).
local function lines_of(uri)
  local bufnr = vim.uri_to_bufnr(uri)
  if vim.api.nvim_buf_is_loaded(bufnr) then
    return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  end
  local ok, read = pcall(vim.fn.readfile, vim.uri_to_fname(uri))
  return ok and read or {}
end

--- One quickfix item per text edit of a WorkspaceEdit: where it lands and its first new line.
function M.items(edit)
  local items, created = {}, {}
  local function add(uri, text_edits)
    local old = lines_of(uri)
    for _, text_edit in ipairs(text_edits) do
      local line = text_edit.range.start.line
      local first = vim.trim(text_edit.newText):match("[^\n]*")
      local removed = text_edit.range["end"].line - line
      local what = created[uri] and "new file" or (removed > 0 and ("replaces %d line(s)"):format(removed) or "inserts")
      items[#items + 1] = { filename = vim.uri_to_fname(uri), lnum = line + 1, col = 1,
                            text = ("%s: %s"):format(what, first ~= "" and first or (old[line + 1] or "")) }
    end
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.kind == "create" then
      created[change.uri] = true
    elseif change.textDocument then
      add(change.textDocument.uri, change.edits)
    end
  end
  for uri, text_edits in pairs(edit.changes or {}) do
    add(uri, text_edits)
  end
  return items
end

--- Shows `resolved` (a resolved code action): its changes in the quickfix list, then asks.
function M.offer(client, resolved, done)
  if not resolved.edit then
    vim.notify("gemma-lsp: " .. resolved.title .. " (the failure is shown beside the code)", vim.log.levels.WARN)
    return done and done(false)
  end
  vim.fn.setqflist({}, " ", { title = resolved.title, items = M.items(resolved.edit) })
  vim.cmd("copen")
  vim.ui.select({ "Apply", "Discard" }, { prompt = resolved.title .. ": apply?" }, function(choice)
    local apply = choice == "Apply"
    if apply then
      vim.lsp.util.apply_workspace_edit(resolved.edit, client.offset_encoding or "utf-16")
    end
    if done then
      done(apply)
    end
  end)
end

--- Runs Change... on lines line1..line2 (or the cursor) with `instruction`; `refine`: a
--- follow-up of the last proposal. `request` is init.lua's client call (0.11 and before).
function M.run(client, request, instruction, refine, line1, line2, done)
  local bufnr = vim.api.nvim_get_current_buf()
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding or "utf-16")
  if line1 and line2 then
    local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ""
    params.range = { start = { line = line1 - 1, character = 0 }, ["end"] = { line = line2 - 1, character = #last } }
  end
  params.context = { diagnostics = {} }
  request(client, "textDocument/codeAction", params, function(err, actions)
    local action
    for _, candidate in ipairs(actions or {}) do
      if type(candidate.data) == "table" and candidate.data.action == "change" then
        action = candidate
      end
    end
    if err or not action then
      vim.notify("gemma-lsp: Change... is not offered here" .. (err and (": " .. err.message) or ""), vim.log.levels.WARN)
      return done and done(false)
    end
    action.data.instruction = instruction
    action.data.refine = refine or nil
    request(client, "codeAction/resolve", action, function(resolve_err, resolved)
      if resolve_err then
        vim.notify("gemma-lsp: " .. resolve_err.message, vim.log.levels.WARN)
        return done and done(false)
      end
      M.offer(client, resolved, done)
    end, bufnr)
  end, bufnr)
end

return M
