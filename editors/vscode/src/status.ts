// The status bar item: the model, and what the server is doing while it works.
import * as vscode from 'vscode';

export class Status implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  private readonly streams = new Map<string, string>(); // stream id -> title, until done
  private pending = 0;
  private state: 'starting' | 'running' | 'stopped' = 'starting';

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

  request(delta: 1 | -1): void {
    this.pending = Math.max(0, this.pending + delta);
    this.render();
  }

  get text(): string {
    return this.item.text;
  }

  private render(): void {
    const working = [...this.streams.values()].pop();
    if (this.state !== 'running') {
      this.item.text = `$(circle-slash) Gemma: ${this.state}`;
    } else if (working || this.pending > 0) {
      this.item.text = `$(loading~spin) Gemma: ${working ?? 'waiting for the model'}`;
    } else {
      this.item.text = `$(hubot) Gemma: ${this.model()}`;
    }
    this.item.tooltip = `gemma-lsp (${this.model()}): click to show the stream panel`;
  }

  dispose(): void {
    this.item.dispose();
  }
}
