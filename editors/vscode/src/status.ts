// The status bar item: the model, where it runs, the context in use (gemma/status), and what
// the server is doing while it works.
import * as vscode from 'vscode';
import type { ServerStatus } from './session';

/** "gemma-3-270m | CPU | ctx 312/2048" (the context of the last prompt, of the window). */
export function describeServer(status: ServerStatus): string {
  const context = status.context_tokens_last === null ? `ctx ${status.n_ctx}` : `ctx ${status.context_tokens_last}/${status.n_ctx}`;
  return `${status.model} | ${status.backend.toUpperCase()} | ${context}`;
}

export class Status implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  private readonly streams = new Map<string, string>(); // stream id -> title, until done
  private pending = 0;
  private state: 'starting' | 'running' | 'stopped' = 'starting';
  private serverStatus: ServerStatus | undefined;

  constructor(private readonly model: () => string) {
    this.item.command = 'gemmaLsp.showPanel';
    this.render();
    this.item.show();
  }

  setState(state: 'starting' | 'running' | 'stopped'): void {
    this.state = state;
    this.render();
  }

  stream(id: string, title: string, done: boolean): void {
    if (done) {
      this.streams.delete(id);
    } else {
      this.streams.set(id, title);
    }
    this.render();
  }

  server(status: ServerStatus): void {
    this.serverStatus = status;
    this.render();
  }

  request(delta: 1 | -1): void {
    this.pending = Math.max(0, this.pending + delta);
    this.render();
  }

  get text(): string {
    return this.item.text;
  }

  private render(): void {
    const working = [...this.streams.values()].pop();
    const server = this.serverStatus;
    const model = server ? describeServer(server) : this.model();
    if (this.state !== 'running') {
      this.item.text = `$(circle-slash) Gemma: ${this.state}`;
    } else if (working || this.pending > 0) {
      this.item.text = `$(loading~spin) Gemma: ${working ?? 'waiting for the model'}`;
    } else if (server?.busy) {
      this.item.text = `$(loading~spin) Gemma: ${model} | busy`; // e.g. another editor's or an on-save request
    } else {
      this.item.text = `$(hubot) Gemma: ${model}`;
    }
    const details = server
      ? [
          `model: ${server.model}${server.loaded ? '' : ' (loads on the first request)'}`,
          `runs on: ${server.backend}${server.backend === 'gpu' ? `, ${server.gpu_layers < 0 ? 'all' : server.gpu_layers} layers offloaded` : ''}`,
          `context window: ${server.n_ctx} tokens; last prompt's context: ${server.context_tokens_last ?? 'none yet'}`,
          `requests running: ${server.running}`,
        ].join('\n')
      : `model: ${this.model()}`;
    this.item.tooltip = `gemma-lsp\n${details}\nClick to show the stream panel.`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
