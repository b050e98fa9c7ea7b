// The diff preview of a proposed edit: each file the server's WorkspaceEdit touches is shown as
// VS Code's diff (the file on the left, the file after the edit on the right, a virtual document),
// and nothing is written until the user accepts. Reject (or dismissing the question) drops it.
import * as vscode from 'vscode';
import type * as lsp from 'vscode-languageclient/node';

export const PREVIEW_SCHEME = 'gemma-proposed';
const PREVIEWING = 'gemmaLsp.previewing'; // context key: shows Accept / Reject in the diff's title bar

/** One file of a proposal: its text now (empty for a file the edit creates) and after the edit. */
export interface FileChange {
  uri: string;
  version: number | null;
  created: boolean;
  before: string;
  after: string;
}

export type Decision = 'accept' | 'reject';

/** Applies LSP text edits (UTF-16 line/character positions, as JS strings count) to `text`. */
export function applyTextEdits(text: string, edits: readonly lsp.TextEdit[]): string {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\n') {
      starts.push(i + 1);
    }
  }
  const offset = (p: lsp.Position) => Math.min(text.length, (p.line < starts.length ? starts[p.line] : text.length) + p.character);
  const sorted = [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start));
  let result = text;
  for (const edit of sorted) {
    result = result.slice(0, offset(edit.range.start)) + edit.newText + result.slice(offset(edit.range.end));
  }
  return result;
}

/** The text edits of a WorkspaceEdit per file, with the version each was computed for. */
export function editsByFile(edit: lsp.WorkspaceEdit): { uri: string; version: number | null; created: boolean; edits: lsp.TextEdit[] }[] {
  const files: { uri: string; version: number | null; created: boolean; edits: lsp.TextEdit[] }[] = [];
  const created = new Set<string>();
  for (const change of edit.documentChanges ?? []) {
    if ('kind' in change) {
      if (change.kind === 'create') {
        created.add(change.uri);
      }
      continue; // renames and deletes: the server sends none
    }
    files.push({ uri: change.textDocument.uri, version: change.textDocument.version, created: false, edits: change.edits as lsp.TextEdit[] });
  }
  for (const [uri, edits] of Object.entries(edit.changes ?? {})) {
    files.push({ uri, version: null, created: false, edits });
  }
  return files.map((file) => ({ ...file, created: created.has(file.uri) }));
}

export class EditPreview implements vscode.Disposable {
  private readonly proposed = new Map<string, string>(); // preview uri -> text after the edit
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly registration: vscode.Disposable;
  private decide: ((decision: Decision) => void) | undefined;
  private counter = 0;
  /** The proposal on screen (for the status of the question, and for the editor tests). */
  pending: { title: string; files: FileChange[]; previews: vscode.Uri[] } | undefined;

  constructor() {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, {
      onDidChange: this.changed.event,
      provideTextDocumentContent: (uri) => this.proposed.get(uri.toString()) ?? '',
    });
  }

  /** Shows the diffs and waits for Accept or Reject (the question's buttons or the commands). */
  async ask(title: string, summary: string, files: FileChange[]): Promise<Decision> {
    this.settle('reject'); // one proposal at a time: a new one replaces an unanswered one
    const id = ++this.counter;
    // Answerable from now on: Accept may come while the diffs are still opening.
    const decision = new Promise<Decision>((resolve) => (this.decide = resolve));
    const previews: vscode.Uri[] = [];
    try {
      for (const file of files) {
        previews.push(await this.showDiff(file, title, id));
      }
      this.pending = { title, files, previews };
      await vscode.commands.executeCommand('setContext', PREVIEWING, true);
      // Only this proposal's question answers it: an older question closing (VS Code closes a
      // toast when an identical one comes) must not reject the proposal on screen now.
      void vscode.window
        .showInformationMessage(`Gemma: ${title}: apply the proposed edit? (${summary})`, 'Accept', 'Reject')
        .then((choice) => id === this.counter && this.settle(choice === 'Accept' ? 'accept' : 'reject'));
      return await decision;
    } finally {
      await this.close(previews, id);
    }
  }

  /** VS Code's diff of the file (empty for a new one) against the file after the edit. */
  private async showDiff(file: FileChange, title: string, id: number): Promise<vscode.Uri> {
    const target = vscode.Uri.parse(file.uri);
    const right = target.with({ scheme: PREVIEW_SCHEME, query: `proposed-${id}` });
    const left = file.created ? target.with({ scheme: PREVIEW_SCHEME, query: `empty-${id}` }) : target;
    this.proposed.set(right.toString(), file.after);
    if (file.created) {
      this.proposed.set(left.toString(), '');
    }
    const name = target.path.split('/').pop();
    await vscode.commands.executeCommand('vscode.diff', left, right, `${name}: ${title} (proposed)`, { preview: true });
    return right;
  }

  /** Answers the proposal on screen; false when there is none. */
  settle(decision: Decision): boolean {
    const decide = this.decide;
    this.decide = undefined;
    decide?.(decision);
    return decide !== undefined;
  }

  private async close(previews: vscode.Uri[], id: number): Promise<void> {
    const shown = new Set(previews.map((uri) => uri.toString()));
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) =>
      tab.input instanceof vscode.TabInputTextDiff && shown.has(tab.input.modified.toString()),
    );
    await vscode.window.tabGroups.close(tabs);
    for (const key of [...this.proposed.keys()]) {
      if (key.endsWith(`proposed-${id}`) || key.endsWith(`empty-${id}`)) {
        this.proposed.delete(key);
      }
    }
    if (!this.decide) {
      this.pending = undefined;
      await vscode.commands.executeCommand('setContext', PREVIEWING, false);
    }
  }

  dispose(): void {
    this.settle('reject');
    this.registration.dispose();
    this.changed.dispose();
  }
}
