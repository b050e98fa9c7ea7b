// The status bar item, the editor's one place for what gemma-lsp is doing: the model, where it
// runs and the last prompt's size (gemma/status) when idle; while a request runs, its title and
// the server's own words for its stage (the `stage` of gemma/stream, the same words as its
// progress report: "reading the prompt: 512 of 1360 tokens").
import * as vscode from 'vscode';
import type { ServerStatus } from './session';

/**
 * The token count, named: "prompt 1185 of 8192 tokens" (the model's own count of the last prompt,
 * the number the explanation document gives), else "context est. 958 of 8192 tokens" (an older
 * server: the packed context's estimate), else "window 8192 tokens".
 */
export function describeTokens(status: ServerStatus): string {
  if (status.prompt_tokens_last != null) {
    return `prompt ${status.prompt_tokens_last} of ${status.n_ctx} tokens`;
  }
  if (status.context_tokens_last != null) {
    return `context est. ${status.context_tokens_last} of ${status.n_ctx} tokens`;
  }
  return `window ${status.n_ctx} tokens`;
}

/** "gemma-3-270m | CPU | prompt 1185 of 2048 tokens". */
export function describeServer(status: ServerStatus): string {
  return `${status.model} | ${status.backend.toUpperCase()} | ${describeTokens(status)}`;
}

export class Status implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  private readonly streams = new Map<string, string>(); // stream id -> "title: stage", until done
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

  stream(id: string, title: string, done: boolean, stage?: string): void {
    if (done) {
      this.streams.delete(id);
    } else {
      const before = this.streams.get(id);
      const kept = before?.startsWith(`${title}: `) ? before.slice(title.length + 2) : undefined;
      const words = stage ?? kept;
      this.streams.set(id, words ? `${title}: ${words}` : title);
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
      this.item.text = `$(loading~spin) Gemma: ${working ?? 'preparing the context'}`;
    } else if (server?.busy) {
      this.item.text = `$(loading~spin) Gemma: ${model} | busy`; // e.g. another editor's or an on-save request
    } else {
      this.item.text = `$(hubot) Gemma: ${model}`;
    }
    const details = server
      ? [
          `model: ${server.model}${server.loaded ? '' : ' (loads on the first request)'}`,
          `runs on: ${server.backend}${server.backend === 'gpu' ? `, ${server.gpu_layers < 0 ? 'all' : server.gpu_layers} layers offloaded` : ''}`,
          `context window: ${server.n_ctx} tokens`,
          `last prompt: ${server.prompt_tokens_last ?? 'none yet'} tokens (the model's count), of which the workspace context is about ${server.context_tokens_last ?? 0} (estimated)`,
          `requests running: ${server.running}`,
        ].join('\n')
      : `model: ${this.model()}`;
    this.item.tooltip = `gemma-lsp\n${details}\nClick to show the Gemma panel.`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
