// A webview beside the editor that shows an answer while the server streams it
// (`gemma/stream`: {id, uri, title, delta, done, thinking?}). One panel, reused; a new id replaces
// the text. A thinking model's thought (`thinking`) is shown apart, folded once the answer comes.
import * as vscode from 'vscode';

export interface StreamParams {
  id: string;
  uri: string;
  title: string;
  delta: string;
  done: boolean;
  thinking?: string;
}

export interface StreamState {
  id: string;
  title: string;
  text: string;
  thinking: string;
  done: boolean;
  /** The text the webview reports it has rendered (it echoes every update). */
  rendered: string;
}

export class StreamPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  readonly state: StreamState = { id: '', title: '', text: '', thinking: '', done: true, rendered: '' };

  onStream(params: StreamParams): void {
    if (params.id !== this.state.id) {
      Object.assign(this.state, { id: params.id, title: params.title, text: '', thinking: '', done: false, rendered: '' });
    }
    this.state.text += params.delta ?? '';
    this.state.thinking += params.thinking ?? '';
    this.state.done = params.done;
    this.reveal(true);
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

  private onMessage(message: { type: string; id?: string; text?: string }): void {
    if (message.type === 'ready') {
      this.post();
    } else if (message.type === 'rendered' && message.id === this.state.id) {
      this.state.rendered = message.text ?? '';
    }
  }

  // The whole text every time: a message sent before the page listens is repaired by the next.
  private post(): void {
    const { id, title, text, thinking, done } = this.state;
    void this.panel?.webview.postMessage({ type: 'show', id, title, text, thinking, done });
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
  body { font-family: var(--vscode-font-family); color: var(--vscode-foreground); }
  #text, #thought { white-space: pre-wrap; font-family: var(--vscode-editor-font-family); }
  #thinking { color: var(--vscode-descriptionForeground); }
  #state { color: var(--vscode-descriptionForeground); }
</style></head>
<body>
<h3 id="title">No explanation yet</h3><div id="state"></div>
<details id="thinking" hidden><summary>Thinking</summary><div id="thought"></div></details><div id="text"></div>
<script nonce="${scriptNonce}">
  const vscode = acquireVsCodeApi();
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (m.type !== 'show') return;
    document.getElementById('title').textContent = m.title;
    document.getElementById('state').textContent = m.done ? '' : (m.thinking && !m.text ? 'thinking...' : 'streaming...');
    const thinking = document.getElementById('thinking');
    thinking.hidden = !m.thinking;
    thinking.open = !!m.thinking && !m.text; // open while it thinks, folded once the answer comes
    document.getElementById('thought').textContent = m.thinking || '';
    document.getElementById('text').textContent = m.text;
    vscode.postMessage({ type: 'rendered', id: m.id, text: document.getElementById('text').textContent });
  });
  vscode.postMessage({ type: 'ready' });
</script></body></html>`;
}
