// One running gemma-lsp server: `<python> -m lsp_server serve` over stdio through
// vscode-languageclient, with the requests the extension sent so Cancel can reach them.
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { StreamPanel, StreamParams } from './panel';
import { SECTION, pythonPath, serverSettings } from './settings';
import { Status } from './status';

export const STREAM_NOTIFICATION = 'gemma/stream';

export class Session implements vscode.Disposable {
  client: LanguageClient | undefined;
  /** The last explanation document the server showed (window/showDocument). */
  lastDocument: vscode.Uri | undefined;
  private readonly running = new Set<vscode.CancellationTokenSource>();
  private readonly output = vscode.window.createOutputChannel('Gemma LSP', { log: true });

  constructor(private readonly panel: StreamPanel, private readonly status: Status) {}

  async start(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    const python = await pythonPath(folder?.uri);
    this.output.appendLine(`Starting ${python} -m lsp_server serve`);
    // No transport option: vscode-languageclient would add --stdio, which `serve` does not take.
    const server: ServerOptions = {
      command: python,
      args: ['-m', 'lsp_server', 'serve'],
      options: { cwd: folder?.uri.fsPath },
    };
    const client = new LanguageClient('gemmaLsp', 'Gemma LSP', server, this.clientOptions());
    client.onDidChangeState((change) => {
      this.status.setState(change.newState === State.Running ? 'running' : change.newState === State.Starting ? 'starting' : 'stopped');
    });
    client.onNotification(STREAM_NOTIFICATION, (params: StreamParams) => {
      this.status.stream(params.id, params.title, params.done);
      this.panel.onStream(params);
    });
    this.client = client;
    try {
      await client.start();
    } catch {
      // The client has logged why; the user can fix the setting and run "Gemma: Restart Server".
      void vscode.window.showErrorMessage(`Gemma: the server did not start (${python} -m lsp_server serve). See the Gemma LSP output.`);
    }
  }

  private clientOptions(): LanguageClientOptions {
    return {
      documentSelector: [{ scheme: 'file', language: 'python' }],
      outputChannel: this.output,
      initializationOptions: { [SECTION]: serverSettings() },
      middleware: {
        workspace: {
          configuration: (params) =>
            params.items.map((item) => (item.section === SECTION ? serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined) : null)),
        },
        window: {
          showDocument: async (params, token, next) => {
            this.lastDocument = vscode.Uri.parse(params.uri);
            if (!params.uri.endsWith('.md')) {
              return next(params, token);
            }
            await vscode.window.showTextDocument(this.lastDocument, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: !params.takeFocus, preview: true });
            return { success: true };
          },
        },
      },
    };
  }

  /** One of the server's commands on [uri, range] (workspace/executeCommand); Cancel reaches it. */
  async execute(command: string, uri: vscode.Uri, range: vscode.Range): Promise<unknown> {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      throw new Error('The gemma-lsp server is not running: see the Gemma LSP output, then run "Gemma: Restart Server".');
    }
    const converter = client.code2ProtocolConverter;
    const args = [converter.asUri(uri), converter.asRange(range)];
    const source = new vscode.CancellationTokenSource();
    this.running.add(source);
    this.status.request(1);
    try {
      return await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, source.token);
    } finally {
      this.running.delete(source);
      source.dispose();
      this.status.request(-1);
    }
  }

  /** Cancels the requests this extension sent; returns how many. */
  cancel(): number {
    const count = this.running.size;
    for (const source of this.running) {
      source.cancel();
    }
    return count;
  }

  settingsChanged(): void {
    void this.client?.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: serverSettings() } });
  }

  async stop(): Promise<void> {
    this.cancel();
    const client = this.client;
    this.client = undefined;
    if (client && client.needsStop()) {
      await client.stop(5000).catch((error) => this.output.appendLine(`stop: ${error}`));
    }
  }

  dispose(): void {
    void this.stop();
    this.output.dispose();
  }
}
