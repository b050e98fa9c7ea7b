// A webview beside the editor that follows one request at a time while the server streams it
// (`gemma/stream`: {id, uri, title, delta, done, thinking?, stage?, outcome?, message?}). One panel,
// reused: a new request clears it; its end marks it done, cancelled, failed or rejected (the answer
// failed verification: the reason is shown above it). The answer is Markdown rendered to HTML here
// by markdown-it with raw HTML off (the model's text cannot add markup or scripts to the page).
// A thinking model's thought (`thinking`) is shown apart, folded once the answer comes.
import MarkdownIt from 'markdown-it';
import * as vscode from 'vscode';

export type Outcome = 'running' | 'done' | 'cancelled' | 'failed' | 'rejected';

export interface StreamParams {
  id: string;
  uri: string;
  title: string;
  delta: string;
  done: boolean;
  thinking?: string;
  /** What the server is doing: the progress report's words ("reading the prompt: 512 of 1360 tokens"). */
  stage?: string;
  /** On the last notification(s): how the request ended (an older server sends none: "done"). */
  outcome?: Exclude<Outcome, 'running'>;
  message?: string;
}

export interface StreamState {
  id: string;
  title: string;
  text: string;
  thinking: string;
  done: boolean;
  outcome: Outcome;
  stage: string;
  message: string;
  /** The answer's text as the webview shows it (it echoes every update), and its HTML. */
  rendered: string;
  renderedHtml: string;
  /** Updates posted to the webview, and the last one it has shown (equal: it shows the current state). */
  posted: number;
  shown: number;
}

const markdown = new MarkdownIt({ html: false, linkify: false });

export function renderMarkdown(text: string): string {
  return markdown.render(text);
}

/**
 * The answer as Markdown: an explanation is Markdown already; an edit action's answer that is
 * bare code (a base model's completion) is shown as a Python block, not as run-together prose.
 */
export function answerMarkdown(title: string, text: string): string {
  if (!text || title.startsWith('Explaining') || text.includes('```')) {
    return text;
  }
  const fence = '`'.repeat(Math.max(3, ...(text.match(/`+/g) ?? []).map((run) => run.length + 1)));
  return `${fence}python\n${text}\n${fence}`;
}

/** The line under the title: what is happening, or how the request ended. */
export function describeState(state: Pick<StreamState, 'done' | 'outcome' | 'stage' | 'message' | 'thinking' | 'text'>): string {
  if (!state.done) {
    return state.stage || (state.thinking && !state.text ? 'thinking...' : 'working...');
  }
  switch (state.outcome) {
    case 'cancelled':
      return 'Cancelled.';
    case 'failed':
      return `Failed${state.message && state.message !== 'failed' ? `: ${state.message}` : '.'}`;
    case 'rejected':
      return `Rejected: ${state.message || 'the answer failed verification'}. Nothing was changed.`;
    default:
      return 'Done.';
  }
}

const EMPTY: StreamState = {
  id: '', title: 'No request yet', text: '', thinking: '', done: true, outcome: 'done', stage: '', message: '', rendered: '', renderedHtml: '', posted: 0, shown: 0,
};

export class StreamPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  readonly state: StreamState = { ...EMPTY };
  private readonly seen = new Set<string>(); // ids shown so far: a late word from an old one is ignored

  /** A request of this editor starts: the last one's text goes at once, before the server speaks. */
  start(title: string): void {
    Object.assign(this.state, { ...EMPTY, id: '', title, done: false, outcome: 'running', stage: 'preparing the context', posted: this.state.posted });
    this.post();
  }

  onStream(params: StreamParams): void {
    if (params.id !== this.state.id) {
      if (this.seen.has(params.id)) {
        return;
      }
      this.seen.add(params.id);
      Object.assign(this.state, { ...EMPTY, id: params.id, title: params.title, done: false, outcome: 'running', posted: this.state.posted });
    }
    this.state.text += params.delta ?? '';
    this.state.thinking += params.thinking ?? '';
    this.state.stage = params.stage ?? this.state.stage;
    this.state.done = params.done;
    this.state.outcome = params.done ? params.outcome ?? 'done' : 'running';
    this.state.message = params.message ?? this.state.message;
    this.reveal(true);
    this.post();
  }

  /** How the shown request ended, when the editor learns it apart from the stream (a refused edit). */
  verdict(outcome: Exclude<Outcome, 'running'>, message: string): void {
    Object.assign(this.state, { done: true, outcome, message });
    this.post();
  }

  reveal(preserveFocus: boolean): void {
    if (this.panel) {
      if (!this.panel.visible) {
        this.panel.reveal(vscode.ViewColumn.Beside, preserveFocus);
      }
      return;
    }
    this.panel = vscode.window.createWebviewPanel(
      'gemmaLsp.stream',
      'Gemma',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus },
      { enableScripts: true, retainContextWhenHidden: true },
    );
    this.panel.webview.html = html(nonce());
    this.panel.webview.onDidReceiveMessage((message) => this.onMessage(message));
    this.panel.onDidDispose(() => (this.panel = undefined));
  }

  private onMessage(message: { type: string; id?: string; text?: string; html?: string; seq?: number }): void {
    if (message.type === 'ready') {
      this.post();
    } else if (message.type === 'rendered' && message.id === this.state.id) {
      this.state.rendered = message.text ?? '';
      this.state.renderedHtml = message.html ?? '';
      this.state.shown = message.seq ?? 0;
    }
  }

  // The whole answer every time: a message sent before the page listens is repaired by the next.
  private post(): void {
    const { id, title, text, thinking, outcome } = this.state;
    const status = describeState(this.state);
    const seq = this.panel ? ++this.state.posted : this.state.posted;
    void this.panel?.webview.postMessage({ type: 'show', seq, id, title, status, outcome, html: renderMarkdown(answerMarkdown(title, text)), thinking, answered: !!text });
  }

  dispose(): void {
    this.panel?.dispose();
  }
}

function nonce(): string {
  return Array.from({ length: 24 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
}

function html(scriptNonce: string): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${scriptNonce}';">
<style>
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); line-height: 1.4; }
  #thought { white-space: pre-wrap; font-family: var(--vscode-editor-font-family); }
  #thinking, #state { color: var(--vscode-descriptionForeground); }
  #state.rejected, #state.failed { color: var(--vscode-errorForeground); font-weight: bold; }
  #state.cancelled { font-style: italic; }
  #text.rejected { opacity: 0.6; border-left: 3px solid var(--vscode-errorForeground); padding-left: 0.6em; }
  code, pre { font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); }
  pre { padding: 0.5em; overflow-x: auto; }
</style></head>
<body>
<h3 id="title">No request yet</h3><div id="state"></div>
<details id="thinking" hidden><summary>Thinking</summary><div id="thought"></div></details><div id="text"></div>
<script nonce="${scriptNonce}">
  const vscode = acquireVsCodeApi();
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m.type !== 'show') return;
    document.getElementById('title').textContent = m.title;
    const state = document.getElementById('state');
    state.textContent = m.status;
    state.className = m.outcome;
    const thinking = document.getElementById('thinking');
    thinking.hidden = !m.thinking;
    thinking.open = !!m.thinking && !m.answered; // open while it thinks, folded once the answer comes
    document.getElementById('thought').textContent = m.thinking || '';
    const text = document.getElementById('text');
    text.innerHTML = m.html; // markdown-it with raw HTML off, in the extension: escaped text and its own tags
    text.className = m.outcome;
    vscode.postMessage({ type: 'rendered', id: m.id, seq: m.seq, text: text.innerText, html: text.innerHTML });
  });
  vscode.postMessage({ type: 'ready' });
</script></body></html>`;
}
