// Runs inside real VS Code (code-server) next to the installed Gemma LSP extension: calls its
// commands and VS Code's own providers the way a user's clicks do, and records what it saw as JSON
// in $GEMMA_DRIVER_RESULTS for test_vscode.py to check. Inactive without that variable.
const fs = require('fs');
const vscode = require('vscode');

const EXTENSION_ID = 'gemma-lsp.gemma-lsp';
const STEP_TIMEOUT_MS = Number(process.env.GEMMA_STEP_TIMEOUT_MS || 120000);

async function activate() {
  const out = process.env.GEMMA_DRIVER_RESULTS;
  if (!out) {
    return;
  }
  const results = { steps: [] };
  const save = () => fs.writeFileSync(out, JSON.stringify(results, null, 1));
  try {
    await drive(results, save);
    results.ok = true;
  } catch (error) {
    results.error = String((error && error.stack) || error);
  }
  results.done = true;
  save();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Asks test_vscode.py to capture the screen now (Chromium's DevTools protocol): records the
 * request in the results and waits until the test writes `<results>.shot-<name>` (at most a
 * minute; without GEMMA_DRIVER_SHOTS nobody captures, so it returns at once).
 */
async function screenshot(results, save, name) {
  if (!process.env.GEMMA_DRIVER_SHOTS) {
    return false;
  }
  await sleep(1500); // the workbench paints, the Markdown preview renders
  results.shot = name;
  save();
  const ack = `${process.env.GEMMA_DRIVER_RESULTS}.shot-${name}`;
  const deadline = Date.now() + 60000;
  while (!fs.existsSync(ack) && Date.now() < deadline) {
    await sleep(200);
  }
  results.shot = null;
  save();
  return fs.existsSync(ack);
}

/** Every tab: label, kind (a text file, a diff, a webview such as the Markdown preview), whether active. */
function tabs() {
  return vscode.window.tabGroups.all.flatMap((group) => group.tabs).map((tab) => {
    const input = tab.input;
    const kind = input instanceof vscode.TabInputWebview ? `webview:${input.viewType}` : input instanceof vscode.TabInputCustom ? `custom:${input.viewType}`
      : input instanceof vscode.TabInputTextDiff ? 'diff' : input instanceof vscode.TabInputText ? 'text' : 'other';
    const uri = input && (input.uri || input.modified);
    return { label: tab.label, kind, active: tab.isActive && tab.group.isActive, uri: uri ? uri.toString() : null };
  });
}

async function waitFor(step, condition) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const value = await condition();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out: ${step}`);
    }
    await sleep(100);
  }
}

function at(line, character) {
  return new vscode.Range(line, character, line, character);
}

// VS Code cancels a provider call now and then when the workbench moves on (it reports
// "Canceled"); a user would simply ask again, so the driver does too.
async function codeActions(uri, range, kind, resolveCount) {
  for (let attempt = 1; ; attempt++) {
    try {
      const actions = (await vscode.commands.executeCommand('vscode.executeCodeActionProvider', uri, range, kind, resolveCount)) || [];
      // VS Code answers an empty list when it cancelled the request itself (another editor took
      // focus meanwhile, as after "Show context"): ask again, as the light bulb would.
      if (actions.length > 0 || attempt >= 3) {
        return actions;
      }
      await sleep(500);
    } catch (error) {
      if (attempt >= 3 || !/cancel/i.test(String(error && error.message))) {
        throw error;
      }
    }
  }
}

async function revert(document) {
  await vscode.window.showTextDocument(document);
  await vscode.commands.executeCommand('workbench.action.files.revert');
  const saved = fs.readFileSync(document.uri.fsPath, 'utf8');
  if (document.getText() !== saved) {
    // The revert went to another editor (focus moves in a headless workbench): restore by an edit.
    const edit = new vscode.WorkspaceEdit();
    edit.replace(document.uri, new vscode.Range(0, 0, document.lineCount, 0), saved);
    await vscode.workspace.applyEdit(edit);
  }
}

/** Records the status bar text while `work` runs. */
async function sampling(api, samples, work) {
  const timer = setInterval(() => samples.push(api.statusText()), 50);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

function proposedDiffTabs() {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputTextDiff && tab.input.modified.scheme === 'gemma-proposed')
    .map((tab) => ({ label: tab.label, original: tab.input.original.toString(), modified: tab.input.modified.toString() }));
}

/**
 * Runs an edit command; when its diff preview appears, records it and answers with `answer`
 * (gemmaLsp.acceptEdit / gemmaLsp.rejectEdit) as a click on the title bar's button does.
 */
async function previewed(api, document, answer, run, whileShown = async () => undefined) {
  const before = document.getText();
  const running = run();
  let settled;
  running.then((outcome) => (settled = { outcome }), (error) => (settled = { error: String(error) }));
  await waitFor('preview or outcome', () => api.preview.pending || settled);
  let shown = null;
  if (api.preview.pending) {
    const pending = api.preview.pending;
    await waitFor('diff tab', () => proposedDiffTabs().length > 0);
    const proposed = await vscode.workspace.openTextDocument(pending.previews[0]);
    shown = { title: pending.title, files: pending.files, tabs: proposedDiffTabs(), proposed_text: proposed.getText() };
    shown.screenshot = await whileShown();
    await vscode.commands.executeCommand(answer);
  }
  await waitFor('outcome', () => settled);
  const lastDocument = api.session.lastDocument && api.session.lastDocument.fsPath;
  return { before, after: document.getText(), shown, ...settled, tabs_after: proposedDiffTabs(), last_document: lastDocument };
}

async function drive(results, save) {
  const started = Date.now();
  results.seconds = {};
  const step = (name, data) => {
    results.seconds[name] = (Date.now() - started) / 1000;
    results.steps.push(name);
    results[name] = data;
    save();
  };
  const folder = vscode.workspace.workspaceFolders[0].uri;
  const cart = vscode.Uri.joinPath(folder, 'shop', 'cart.py');
  const document = await vscode.workspace.openTextDocument(cart);
  await vscode.window.showTextDocument(document);

  // 1. The extension activates for Python and its server starts.
  const extension = await waitFor('extension installed', () => vscode.extensions.getExtension(EXTENSION_ID));
  const api = await extension.activate();
  await waitFor('server running', () => api.session.client && api.session.client.isRunning());
  const firstClient = api.session.client;
  step('activated', { version: extension.packageJSON.version, path: extension.extensionPath, status: api.statusText() });

  // 2. The light bulb: VS Code's code action provider lists the server's actions.
  const listed = await waitFor('code actions', async () => {
    const titles = (await codeActions(cart, at(12, 8))).map((a) => a.title);
    return titles.includes('Gemma: Explain Cart.total') && titles;
  });
  step('code_actions', { titles: listed });

  // 3. Gemma: Explain streams into the panel, shows progress in the status bar, opens the document.
  const statusSamples = [];
  const explainResult = await sampling(api, statusSamples, () => vscode.commands.executeCommand('gemmaLsp.explain', cart, at(12, 8)));
  const streamed = await waitFor('panel rendered', () => {
    const state = api.stream();
    return state.done && state.shown === state.posted && state.text && { ...state };
  });
  const explanation = api.session.lastDocument;
  step('explain', {
    result: explainResult === undefined ? null : explainResult,
    stream: streamed,
    status_samples: [...new Set(statusSamples)],
    status_after: await waitFor('idle after explain', () => !api.statusText().includes('$(loading~spin)') && api.statusText()),
    document: explanation && explanation.fsPath,
    visible: vscode.window.visibleTextEditors.map((e) => e.document.uri.fsPath),
    tabs: await waitFor('markdown preview', () => tabs().some((t) => t.kind.includes('markdown.preview')) && tabs()),
    screenshot: await screenshot(results, save, 'explain'),
  });

  // 4. Gemma: Show Last Explanation and Context opens that document.
  await vscode.commands.executeCommand('gemmaLsp.showContext');
  await sleep(500);
  step('show_context', { tabs: tabs() });

  // 5. The light bulb's "as a comment": VS Code resolves it (codeAction/resolve) to an edit.
  const resolved = await codeActions(cart, at(18, 4), 'refactor.rewrite', 1);
  const comment = resolved.find((a) => a.title === 'Gemma: Explain count_items as a comment');
  const before = document.getText();
  const applied = comment && comment.edit ? await vscode.workspace.applyEdit(comment.edit) : false;
  step('resolve_comment', { titles: resolved.map((a) => a.title), has_edit: Boolean(comment && comment.edit), applied, before, after: document.getText() });
  await revert(document);

  // 6. Gemma: Explain as a Comment: the server's command ends in workspace/applyEdit.
  const commandResult = await vscode.commands.executeCommand('gemmaLsp.explainAsComment', cart, at(18, 4));
  step('command_comment', { result: commandResult === undefined ? null : commandResult, before, after: document.getText() });
  await revert(document);

  // 7. Gemma: Cancel while an explanation is running.
  const running = vscode.commands.executeCommand('gemmaLsp.explain', cart, at(5, 6));
  await waitFor('request pending', () => api.statusText().includes('$(loading~spin)'));
  await sleep(300);
  const cancelled = await vscode.commands.executeCommand('gemmaLsp.cancel');
  const outcome = await waitFor('cancelled request settles', () => Promise.race([running.then((value) => ({ value })), sleep(100).then(() => undefined)]))
    .then((settled) => settled.value);
  step('cancel', {
    cancelled,
    outcome: outcome === undefined ? null : outcome,
    document_after: api.session.lastDocument && api.session.lastDocument.fsPath,
    status_after: await waitFor('idle', () => !api.statusText().includes('$(loading~spin)') && api.statusText()),
  });

  // 8. A changed setting reaches the running server (workspace/didChangeConfiguration).
  const settings = vscode.workspace.getConfiguration('gemmaLsp');
  await settings.update('model.maxTokens', 6, vscode.ConfigurationTarget.Workspace);
  await sleep(500);
  await vscode.commands.executeCommand('gemmaLsp.explain', cart, at(18, 4));
  step('settings_change', { document: api.session.lastDocument && api.session.lastDocument.fsPath });

  // 9. The status bar names the model, where it runs and the context in use (gemma/status).
  const serverStatus = await api.serverStatus();
  step('status', { server: serverStatus, text: await waitFor('status idle', () => !api.statusText().includes('$(loading~spin)') && api.statusText()) });

  // 10.-12. The edit actions: resolved by the server, shown as a diff, applied only when accepted.
  await settings.update('model.maxTokens', 96, vscode.ConfigurationTarget.Workspace);
  await sleep(500);
  const stubs = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'shop', 'stubs.py'));
  await vscode.window.showTextDocument(stubs);
  const implement = () => vscode.commands.executeCommand('gemmaLsp.implement', stubs.uri, at(3, 6));
  step('implement_rejected', await previewed(api, stubs, 'gemmaLsp.rejectEdit', implement));
  const implemented = await previewed(api, stubs, 'gemmaLsp.acceptEdit', implement, () => screenshot(results, save, 'implement'));
  step('implement', { ...implemented, screenshot: implemented.shown ? implemented.shown.screenshot : await screenshot(results, save, 'implement') });

  const pricing = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, 'shop', 'pricing.py'));
  await vscode.window.showTextDocument(pricing);

  const tests = vscode.Uri.joinPath(folder, 'tests', 'test_pricing.py');
  const testsBefore = fs.readFileSync(tests.fsPath, 'utf8');
  const generated = await previewed(api, pricing, 'gemmaLsp.acceptEdit', () => vscode.commands.executeCommand('gemmaLsp.generateTests', pricing.uri, at(3, 6)),
    () => screenshot(results, save, 'generate_tests'));
  const testsDocument = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === tests.fsPath);
  step('generate_tests', {
    ...generated,
    stream: { ...api.stream() },
    screenshot: generated.shown ? generated.shown.screenshot : await screenshot(results, save, 'generate_tests'),
    tests_before: testsBefore,
    tests_after: testsDocument ? testsDocument.getText() : fs.readFileSync(tests.fsPath, 'utf8'),
  });
  if (testsDocument) {
    await revert(testsDocument);
  }

  // 12b. Gemma: Change... with its instruction: verified and previewed (every file it touches), or refused and shown.
  const cartDocument = await vscode.workspace.openTextDocument(cart);
  await vscode.window.showTextDocument(cartDocument);
  const change = () => vscode.commands.executeCommand('gemmaLsp.change', cart, at(10, 8), 'Reject a negative quantity in add with ValueError');
  const changed = await previewed(api, cartDocument, 'gemmaLsp.acceptEdit', change);
  step('change', { ...changed, stream: { ...api.stream() } });
  await revert(cartDocument);

  // 13. Gemma: Restart Server: a new server, and the light bulb works again.
  await vscode.commands.executeCommand('gemmaLsp.restart');
  await waitFor('restarted', () => api.session.client && api.session.client !== firstClient && api.session.client.isRunning());
  const again = await waitFor('code actions after restart', async () => {
    const titles = (await codeActions(cart, at(12, 8))).map((a) => a.title);
    return titles.includes('Gemma: Explain Cart.total') && titles;
  });
  step('restart', { new_client: api.session.client !== firstClient, titles: again });
}

module.exports = { activate, deactivate() {} };
