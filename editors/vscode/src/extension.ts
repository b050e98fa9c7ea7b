// gemma-lsp for VS Code: a thin client. Every action is a command of the server (also offered as
// code actions in the light bulb, which VS Code resolves itself); this file only wires UI to it.
import * as vscode from 'vscode';
import { EDIT_ACTIONS, EditAction, EditOutcome, runEditAction } from './edits';
import { StreamPanel, StreamState } from './panel';
import { EditPreview } from './preview';
import { ServerStatus, Session, showRendered } from './session';
import { SECTION, modelName } from './settings';
import { Status } from './status';

/**
 * The server's actions, one line each: the palette command (declared in package.json
 * contributes.commands) and the server's workspace/executeCommand id, which takes [uri, range].
 */
const ACTIONS: { command: string; server: string; label: string }[] = [
  { command: 'gemmaLsp.explain', server: 'gemma-lsp.explain', label: 'Explaining' },
  { command: 'gemmaLsp.explainAsComment', server: 'gemma-lsp.explainAsComment', label: 'Explaining (comment)' },
];

/** What the extension hands to other extensions (and to the editor tests' driver). */
export interface GemmaApi {
  session: Session;
  preview: EditPreview;
  stream(): StreamState;
  statusText(): string;
  serverStatus(): Promise<ServerStatus | undefined>;
}

export async function activate(context: vscode.ExtensionContext): Promise<GemmaApi> {
  const panel = new StreamPanel();
  const status = new Status(modelName);
  const session = new Session(panel, status);
  const preview = new EditPreview();
  context.subscriptions.push(panel, status, session, preview);

  for (const action of ACTIONS) {
    context.subscriptions.push(
      vscode.commands.registerCommand(action.command, (uri?: vscode.Uri | string, range?: vscode.Range) =>
        runAction(session, action.server, action.label, uri, range),
      ),
    );
  }
  for (const spec of EDIT_ACTIONS) {
    context.subscriptions.push(
      vscode.commands.registerCommand(spec.command, (uri?: vscode.Uri | string, range?: vscode.Range, instruction?: string) =>
        runEdit(session, preview, spec, uri, range, instruction),
      ),
    );
  }
  context.subscriptions.push(
    vscode.commands.registerCommand('gemmaLsp.acceptEdit', () => preview.settle('accept')),
    vscode.commands.registerCommand('gemmaLsp.rejectEdit', () => preview.settle('reject')),
    vscode.commands.registerCommand('gemmaLsp.showContext', () => showContext(session)),
    vscode.commands.registerCommand('gemmaLsp.showPanel', () => panel.reveal(false)),
    vscode.commands.registerCommand('gemmaLsp.cancel', () => cancel(session)),
    vscode.commands.registerCommand('gemmaLsp.restart', () => restart(session)),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${SECTION}.pythonPath`)) {
        void restart(session);
      } else if (event.affectsConfiguration(SECTION)) {
        session.settingsChanged();
      }
    }),
  );

  await session.start();
  return { session, preview, stream: () => panel.state, statusText: () => status.text, serverStatus: () => session.refreshStatus() };
}

export function deactivate(): Promise<void> | undefined {
  return undefined; // the session is disposed with the context's subscriptions
}

/** [uri, range] as given, or the active editor's document and selection (the cursor). */
function targetOf(uri?: vscode.Uri | string, range?: vscode.Range): [vscode.Uri, vscode.Range] | undefined {
  const editor = vscode.window.activeTextEditor;
  const target = typeof uri === 'string' ? vscode.Uri.parse(uri) : uri ?? editor?.document.uri;
  const where = range ?? editor?.selection;
  if (!target || !where) {
    void vscode.window.showWarningMessage('Gemma: put the cursor in a Python function or class first.');
    return undefined;
  }
  return [target, where];
}

/**
 * Runs `work`; a cancelled request (Gemma: Cancel) ends quietly in {cancelled: true}, one whose
 * document changed while the model worked (ContentModified) in a warning and {modified: true}.
 */
async function cancellable<T>(work: () => Promise<T>): Promise<T | { cancelled: true } | { modified: true }> {
  try {
    return await work();
  } catch (error: any) {
    if (error?.code === -32800 || /cancel/i.test(String(error?.message))) {
      void vscode.window.showInformationMessage('Gemma: cancelled.');
      return { cancelled: true };
    }
    if (error?.code === -32801) {
      void vscode.window.showWarningMessage(`Gemma: ${error.message}`);
      return { modified: true };
    }
    throw error; // the server has shown its own message for errors the user can act on
  }
}

/** Runs a server command on [uri, range], or on the active editor's selection (the cursor). */
async function runAction(session: Session, command: string, label: string, uri?: vscode.Uri | string, range?: vscode.Range): Promise<unknown> {
  const target = targetOf(uri, range);
  return target && cancellable(() => session.execute(command, ...target, label));
}

/** An edit action: resolved by the server, previewed as a diff, applied when accepted. */
async function runEdit(
  session: Session, preview: EditPreview, spec: EditAction, uri?: vscode.Uri | string, range?: vscode.Range, instruction?: string,
): Promise<EditOutcome | { cancelled: true } | { modified: true } | undefined> {
  const target = targetOf(uri, range);
  return target && cancellable(() => runEditAction(session, preview, spec, ...target, instruction));
}

async function showContext(session: Session): Promise<void> {
  if (!session.lastDocument) {
    void vscode.window.showInformationMessage('Gemma: no explanation yet. Run "Gemma: Explain" first.');
    return;
  }
  await showRendered(session.lastDocument, true);
}

function cancel(session: Session): number {
  const count = session.cancel();
  void vscode.window.showInformationMessage(count ? `Gemma: cancelling ${count} request(s).` : 'Gemma: nothing to cancel.');
  return count;
}

async function restart(session: Session): Promise<void> {
  await session.stop();
  await session.start();
}
