-- gemma-lsp for Neovim: starts the server for Python buffers and adds the :Gemma* commands.
-- A thin client: every action is the server's code action, run through vim.lsp.buf.code_action.
--
--   require("gemma_lsp").setup({
--     cmd = { "/path/to/.venv/bin/gemma-lsp", "serve" },  -- or python = "/path/to/.venv/bin/python"
--     settings = { model = { path = "~/models/gemma-4-e4b-it-Q4_K_M.gguf", nGpuLayers = -1 } },
--   })
local stream = require("gemma_lsp.stream")
local status = require("gemma_lsp.status")

local M = {}
local NAME = "gemma_lsp"
local HAS_011 = vim.fn.has("nvim-0.11") == 1

--- The server's actions, one line each: the user command, the action id the server puts in the
--- code action's data, the command it offers to clients without codeAction/resolve.
--- Edit actions (all but the explanations) come back as a verified WorkspaceEdit that Neovim
--- applies as one undoable change; a proposal that failed verification changes nothing and the
--- server opens the failure (the checks and the model's answer) instead.
M.actions = {
  { name = "GemmaExplain", action = "explain", command = "gemma-lsp.explain", desc = "Explain the code under the cursor (or the selection)" },
  { name = "GemmaExplainComment", action = "explain_as_comment", command = "gemma-lsp.explainAsComment", desc = "Insert an explanation as a comment above the code" },
  { name = "GemmaRefactor", action = "refactor", command = "gemma-lsp.refactor", instruction = true, desc = "Refactor the code under the cursor; asks how (empty: the server's default clean-up)" },
  { name = "GemmaGenerateTests", action = "generate_tests", command = "gemma-lsp.generateTests", desc = "Write tests for the function or class under the cursor into its test file" },
  { name = "GemmaFixTest", action = "fix_test", command = "gemma-lsp.fixTest", desc = "Fix the failing test under the cursor (or the code it tests)" },
  { name = "GemmaImplement", action = "implement", command = "gemma-lsp.implement", desc = "Write the body of the stub function under the cursor" },
}

local legacy_config -- Neovim 0.8-0.10: the merged configuration (0.11 keeps it in vim.lsp.config)

-- Client methods are called with ":" from 0.11 on and with "." before.
local function call(client, method, ...)
  if HAS_011 then
    return client[method](client, ...)
  end
  return client[method](...)
end

function M.clients()
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  return get({ name = NAME })
end

local function matches(action, spec)
  local data = type(action.data) == "table" and action.data or {}
  local command = type(action.command) == "table" and action.command.command or action.command
  return data.action == spec.action or command == spec.command
end

--- Puts Refactor's instruction where the server reads it: the code action's data (read on
--- codeAction/resolve) or, for a plain command, its optional third argument.
local function with_instruction(action, instruction)
  if instruction == nil or instruction == "" then
    return
  end
  if type(action.data) == "table" then
    action.data.instruction = instruction
  elseif type(action.command) == "table" then
    action.command.arguments = { action.command.arguments[1], action.command.arguments[2], instruction }
  end
end

--- Runs one of M.actions at the cursor, or on lines line1..line2 when given. An action with an
--- instruction asks for it first (vim.ui.input); cancelling the prompt runs nothing.
function M.run(spec, line1, line2, instruction)
  if spec.instruction and instruction == nil then
    vim.ui.input({ prompt = "gemma-lsp: " .. spec.action .. " how? (empty: default) " }, function(input)
      if input ~= nil then
        M.run(spec, line1, line2, vim.trim(input))
      end
    end)
    return
  end
  local opts = {
    apply = true,
    filter = function(action)
      if not matches(action, spec) then
        return false
      end
      -- the filter sees the action before Neovim resolves or runs it: the place to add the instruction
      with_instruction(action, instruction)
      return true
    end,
  }
  if line1 and line2 then
    local last = vim.api.nvim_buf_get_lines(0, line2 - 1, line2, false)[1] or ""
    opts.range = { start = { line1, 0 }, ["end"] = { line2, #last } }
  end
  vim.lsp.buf.code_action(opts)
end

local CANCELLABLE = { ["codeAction/resolve"] = true, ["workspace/executeCommand"] = true }

--- Cancels the model requests in flight; returns how many.
function M.cancel()
  local count = 0
  for _, client in ipairs(M.clients()) do
    for id, request in pairs(client.requests or {}) do
      if request.type == "pending" and CANCELLABLE[request.method] then
        call(client, "cancel_request", id)
        count = count + 1
      end
    end
  end
  vim.notify(count == 0 and "gemma-lsp: nothing to cancel" or ("gemma-lsp: cancelled %d request(s)"):format(count))
  return count
end

local function root_dir(path, markers)
  local found = vim.fs.find(markers or {}, { upward = true, path = vim.fs.dirname(path) })[1]
  return vim.fs.dirname(found or path)
end

--- Starts (or reuses) the client for a buffer.
function M.start(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local path = vim.api.nvim_buf_get_name(bufnr)
  if path == "" or vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local config = vim.deepcopy(HAS_011 and vim.lsp.config[NAME] or legacy_config)
  config.name = NAME
  config.root_dir = type(config.root_dir) == "string" and config.root_dir or root_dir(path, config.root_markers)
  if not HAS_011 then
    config.root_markers, config.filetypes = nil, nil
  end
  return vim.lsp.start(config, { bufnr = bufnr })
end

local function when_stopped(clients, callback, tries)
  local running = vim.tbl_filter(function(client)
    return not call(client, "is_stopped")
  end, clients)
  if #running == 0 or tries <= 0 then
    for _, client in ipairs(running) do
      call(client, "stop", true)
    end
    return callback()
  end
  vim.defer_fn(function()
    when_stopped(running, callback, tries - 1)
  end, 100)
end

--- Stops the server and starts it again for the buffers it served.
function M.restart()
  local clients = M.clients()
  local buffers = {}
  for _, client in ipairs(clients) do
    for bufnr in pairs(client.attached_buffers or {}) do
      buffers[#buffers + 1] = bufnr
    end
    call(client, "stop")
  end
  status.reset()
  when_stopped(clients, function()
    for _, bufnr in ipairs(buffers) do
      if vim.api.nvim_buf_is_valid(bufnr) then
        M.start(bufnr)
      end
    end
    vim.notify("gemma-lsp: restarted")
  end, 50)
end

--- :GemmaChange [instruction] (asks when none is given); with a bang, refines the last proposal.
function M.change(args, done)
  local client = M.clients()[1]
  if not client then
    vim.notify("gemma-lsp: the server is not running for this buffer", vim.log.levels.WARN)
    return
  end
  local function go(instruction)
    if instruction == nil or vim.trim(instruction) == "" then
      vim.notify("gemma-lsp: Change... needs an instruction: say what to change", vim.log.levels.WARN)
      return done and done(false)
    end
    local line1, line2 = nil, nil
    if args.range and args.range > 0 then
      line1, line2 = args.line1, args.line2
    end
    require("gemma_lsp.change").run(client, function(c, ...)
      return call(c, "request", ...)
    end, vim.trim(instruction), args.bang, line1, line2, done)
  end
  if args.args and args.args ~= "" then
    return go(args.args)
  end
  vim.ui.input({ prompt = args.bang and "gemma-lsp: refine the last change: " or "gemma-lsp: change what? " }, go)
end

--- Opens the last explanation (with the context manifest of its request) in a split.
function M.show_context()
  if not stream.last_document then
    vim.notify("gemma-lsp: no explanation yet; run :GemmaExplain first", vim.log.levels.WARN)
    return
  end
  vim.cmd("split " .. vim.fn.fnameescape(vim.uri_to_fname(stream.last_document)))
  stream.rendered(vim.api.nvim_get_current_win())
end

--- For the statusline: "gemma: idle (<model>, CPU, prompt 312 of 2048 tokens)", "gemma: <what it does>:
--- <latest text>", or "". The model part comes from the server's gemma/status, asked for when
--- the client starts and after each request (never while the statusline draws).
function M.status()
  return status.text(M.clients())
end

--- :GemmaStatus: everything gemma/status says, as a message.
function M.show_status()
  local client = M.clients()[1]
  if not client then
    vim.notify("gemma-lsp: the server is not running for this buffer", vim.log.levels.WARN)
    return
  end
  status.refresh(client, function(server)
    vim.notify("gemma-lsp: " .. status.describe(server, true))
  end)
end

local function define_commands()
  for _, spec in ipairs(M.actions) do
    vim.api.nvim_create_user_command(spec.name, function(args)
      if args.range > 0 then
        M.run(spec, args.line1, args.line2)
      else
        M.run(spec)
      end
    end, { range = true, desc = spec.desc })
  end
  vim.api.nvim_create_user_command("GemmaChange", function(args)
    M.change(args)
  end, { range = true, bang = true, nargs = "*", desc = "Change the code from an instruction, across files; lists the changes, applies on yes (! refines the last proposal)" })
  local plain = {
    GemmaCancel = { M.cancel, "Cancel the running gemma-lsp request" },
    GemmaRestart = { M.restart, "Restart the gemma-lsp server" },
    GemmaContext = { M.show_context, "Show the last explanation and the context sent to the model" },
    GemmaShowContext = { M.show_context, "Show the last explanation and the context sent to the model" },
    GemmaStatus = { M.show_status, "Show the model, where it runs, the context in use and whether it is busy" },
    GemmaClose = { stream.close, "Close the gemma-lsp window" },
  }
  for name, entry in pairs(plain) do
    vim.api.nvim_create_user_command(name, function()
      entry[1]()
    end, { desc = entry[2] })
  end
end

local function overrides(opts)
  local settings = opts.settings and next(opts.settings) and opts.settings or vim.empty_dict()
  local config = {
    cmd = opts.python and { opts.python, "-m", "lsp_server", "serve" } or opts.cmd,
    cmd_env = opts.cmd_env,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = { gemmaLsp = settings },
    settings = { gemmaLsp = settings },
  }
  return config
end

local function setup_legacy(config)
  local base = dofile(vim.api.nvim_get_runtime_file("lsp/gemma_lsp.lua", false)[1])
  legacy_config = vim.tbl_deep_extend("force", base, config)
  vim.api.nvim_create_autocmd("FileType", {
    group = vim.api.nvim_create_augroup("gemma_lsp", { clear = true }),
    pattern = legacy_config.filetypes,
    callback = function(args)
      M.start(args.buf)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(legacy_config.filetypes, vim.bo[bufnr].filetype) then
      M.start(bufnr)
    end
  end
end

--- Options: cmd or python, cmd_env, settings (the server's gemmaLsp settings), filetypes,
--- root_markers, float = { width, max_height, border }, commands (false: no :Gemma* commands).
function M.setup(opts)
  opts = opts or {}
  if vim.fn.has("nvim-0.8") == 0 then
    vim.notify("gemma-lsp needs Neovim 0.8 or newer", vim.log.levels.ERROR)
    return
  end
  stream.options = vim.tbl_extend("force", stream.options, opts.float or {})
  if opts.commands ~= false then
    define_commands()
  end
  if HAS_011 then
    vim.lsp.config(NAME, overrides(opts))
    vim.lsp.enable(NAME)
  else
    setup_legacy(overrides(opts))
  end
end

return M
