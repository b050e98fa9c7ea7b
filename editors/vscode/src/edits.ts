// The server's edit actions (Refactor, Generate tests, Fix failing test, Implement, Change...): the action is
// resolved through codeAction/resolve (model + verification in the server), its WorkspaceEdit is
// shown as a diff, and applied only when the user accepts it.
import * as vscode from 'vscode';
import type * as lsp from 'vscode-languageclient/node';
import { applyTextEdits, Decision, EditPreview, editsByFile, FileChange } from './preview';
import { Session, showRendered } from './session';

export interface EditAction {
  /** The palette command (package.json contributes.commands). */
  command: string;
  /** The action id the server puts in the code action's data (lsp_server/features/code_actions.py). */
  action: string;
  label: string;
  /** Where it is offered, for the message when it is not. */
  where: string;
  instruction?: boolean;
  /** Change...: an instruction is required, and `refine` follows up the last proposal. */
  change?: { refine: boolean };
}

export const EDIT_ACTIONS: EditAction[] = [
  { command: 'gemmaLsp.refactor', action: 'refactor', label: 'Refactor', where: 'a function, method or class', instruction: true },
  { command: 'gemmaLsp.generateTests', action: 'generate_tests', label: 'Generate tests', where: 'a function, method or class' },
  { command: 'gemmaLsp.fixTest', action: 'fix_test', label: 'Fix failing test', where: 'a failing test function' },
  { command: 'gemmaLsp.implement', action: 'implement', label: 'Implement', where: 'a function whose body is a stub (pass, ..., raise NotImplementedError)' },
  { command: 'gemmaLsp.change', action: 'change', label: 'Change', where: 'a Python file', instruction: true, change: { refine: false } },
  { command: 'gemmaLsp.refineChange', action: 'change', label: 'Refine the last change', where: 'a Python file', instruction: true, change: { refine: true } },
];

/** What an edit command ends with (returned to callers such as the editor tests). */
export interface EditOutcome {
  offered: boolean;
  verified?: boolean;
  decision?: Decision;
  applied?: boolean;
  title?: string;
  cancelled?: boolean;
  message?: string;
  /** The buttons offered with a refused proposal's warning. */
  choices?: string[];
}

/** Asks for the instruction: undefined when the user pressed Escape; '' is Refactor's default. */
async function askInstruction(spec: EditAction): Promise<string | undefined> {
  if (spec.change) {
    return vscode.window.showInputBox({
      title: `Gemma: ${spec.label}`,
      prompt: spec.change.refine
        ? 'What else should the last proposed change do? It is refined, then verified again.'
        : 'What should change? The code it names (functions, files, settings) is found across the workspace; the result is verified before you see it.',
      placeHolder: spec.change.refine ? 'e.g. also cover logout' : 'e.g. add rate limiting to login, stricter than to token refresh',
      validateInput: (value) => (value.trim() ? undefined : 'Say what to change.'),
    });
  }
  return vscode.window.showInputBox({
    title: 'Gemma: Refactor',
    prompt: 'How should the code change? Leave empty for a general clean-up that keeps behaviour.',
    placeHolder: 'e.g. use early returns',
  });
}

export async function runEditAction(
  session: Session,
  preview: EditPreview,
  spec: EditAction,
  uri: vscode.Uri,
  range: vscode.Range,
  instruction?: string,
): Promise<EditOutcome> {
  if (spec.instruction && instruction === undefined) {
    instruction = await askInstruction(spec);
    if (instruction === undefined) {
      return { offered: false, message: 'no instruction given' };
    }
  }
  const resolved = await session.resolveAction(spec.action, uri, range, instruction?.trim() || undefined, spec.change?.refine);
  if (!resolved) {
    const message = `Gemma: ${spec.label} is not offered here: put the cursor in ${spec.where}.`;
    void vscode.window.showWarningMessage(message);
    return { offered: false, message };
  }
  if (!resolved.edit) {
    // The server opened the failure (why, in terms of the user's code, what to do, the proposed
    // code, the checks) beside the code; the warning says it in one line and offers what to do.
    const { message, reason } = refusal(resolved.title);
    session.panel.verdict('rejected', reason);
    const document = session.lastDocument;
    const code = document ? proposedCode(new TextDecoder().decode(await vscode.workspace.fs.readFile(document))) : undefined;
    const choices = [...(document ? [SHOW_DETAILS] : []), ...(code ? [COPY, DRAFT] : [])];
    void vscode.window.showWarningMessage(message, ...choices).then((choice) => onRefusalChoice(choice, document, code));
    return { offered: true, verified: false, title: resolved.title, message, choices };
  }
  return decide(session, preview, resolved.title, resolved.edit);
}

const SHOW_DETAILS = 'Show details';
const COPY = 'Copy proposal';
const DRAFT = 'Open as draft';

/** "Gemma: Refactor f (not offered: <reason>)" -> a one-line warning and the reason. */
export function refusal(title: string): { message: string; reason: string } {
  const reason = /\(not offered: (.*)\)$/s.exec(title)?.[1] ?? 'it failed verification';
  const what = title.replace(/ \(not offered: .*\)$/s, '').replace(/^Gemma: /, '');
  return { message: `Gemma: ${what} was not offered: ${reason}. Nothing was changed.`, reason };
}

/** The code under "## The proposed code" in a refused proposal's document (actions/outcome.py). */
export function proposedCode(markdown: string): string | undefined {
  return /^## The proposed code\n\n(`{3,})python\n([\s\S]*?)\n\1$/m.exec(markdown)?.[2];
}

async function onRefusalChoice(choice: string | undefined, document: vscode.Uri | undefined, code: string | undefined): Promise<void> {
  if (choice === SHOW_DETAILS && document) {
    await showRendered(document, true);
  } else if (choice === COPY && code) {
    await vscode.env.clipboard.writeText(code);
    void vscode.window.showInformationMessage('Gemma: the proposed code is on the clipboard.');
  } else if (choice === DRAFT && code) {
    const draft = await vscode.workspace.openTextDocument({ language: 'python', content: code });
    await vscode.window.showTextDocument(draft, { viewColumn: vscode.ViewColumn.Beside });
  }
}

async function decide(session: Session, preview: EditPreview, title: string, edit: lsp.WorkspaceEdit): Promise<EditOutcome> {
  const files = await proposedFiles(edit);
  const summary = /\((verified: [^)]*)\)$/.exec(title)?.[1] ?? 'verified';
  const decision = await preview.ask(title.replace(/ \(verified: [^)]*\)$/, '').replace(/^Gemma: /, ''), summary, files);
  if (decision === 'reject') {
    return { offered: true, verified: true, decision, applied: false, title };
  }
  const stale = files.find((file) => file.version !== null && ![undefined, file.version].includes(openVersion(file.uri)));
  if (stale) {
    const message = `Gemma: ${vscode.Uri.parse(stale.uri).path.split('/').pop()} changed since the edit was proposed; run the action again.`;
    void vscode.window.showWarningMessage(message);
    return { offered: true, verified: true, decision, applied: false, title, message };
  }
  const converted = await session.client!.protocol2CodeConverter.asWorkspaceEdit(edit);
  const applied = await vscode.workspace.applyEdit(converted);
  return { offered: true, verified: true, decision, applied, title };
}

async function proposedFiles(edit: lsp.WorkspaceEdit): Promise<FileChange[]> {
  const files: FileChange[] = [];
  for (const file of editsByFile(edit)) {
    const before = file.created && !(await exists(file.uri)) ? '' : (await vscode.workspace.openTextDocument(vscode.Uri.parse(file.uri))).getText();
    files.push({ uri: file.uri, version: file.version, created: file.created, before, after: applyTextEdits(before, file.edits) });
  }
  return files;
}

async function exists(uri: string): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(vscode.Uri.parse(uri));
    return true;
  } catch {
    return false;
  }
}

function openVersion(uri: string): number | undefined {
  return vscode.workspace.textDocuments.find((document) => document.uri.toString() === vscode.Uri.parse(uri).toString())?.version;
}
