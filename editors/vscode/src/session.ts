// One running gemma-lsp server: `<python> -m lsp_server serve` over stdio through
// vscode-languageclient, with the requests the extension sent so Cancel can reach them.
import * as vscode from 'vscode';
import {
  CodeAction,
  CodeActionRequest,
  CodeActionResolveRequest,
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
export const STATUS_REQUEST = 'gemma/status';

/** The server's answer to gemma/status (lsp_server/features/status.py). */
export interface ServerStatus {
  model: string;
  loaded: boolean;
  backend: 'gpu' | 'cpu' | 'remote';
  gpu_layers: number;
  n_ctx: number;
  context_tokens_last: number | null;
  /** The last prompt as the model counted it (a server before issue 23 sends none). */
  prompt_tokens_last?: number | null;
  busy: boolean;
  running: number;
}

/**
 * A Markdown document shown as VS Code's Markdown preview (its preview editor) beside the code:
 * headings, tables and the folded context rendered, never raw `#` and `|`. The code keeps the
 * focus unless asked.
 */
export async function showRendered(uri: vscode.Uri, takeFocus = false): Promise<void> {
  await vscode.commands.executeCommand('vscode.openWith', uri, 'vscode.markdown.preview.editor', {
    viewColumn: vscode.ViewColumn.Beside,
    preserveFocus: !takeFocus,
    preview: true,
  });
}

export class Session implements vscode.Disposable {
  client: LanguageClient | undefined;
  /** The last explanation document the server showed (window/showDocument). */
  lastDocument: vscode.Uri | undefined;
  private readonly running = new Set<vscode.CancellationTokenSource>();
  private readonly output = vscode.window.createOutputChannel('Gemma LSP', { log: true });
  private statusPoll: ReturnType<typeof setTimeout> | undefined;

  constructor(readonly panel: StreamPanel, private readonly status: Status) {}

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
      this.status.stream(params.id, params.title, params.done, params.stage);
      this.panel.onStream(params);
      if (params.done && this.running.size === 0) {
        void this.refreshStatus(); // a light-bulb request (ours refresh when they end)
      }
    });
    this.client = client;
    try {
      await client.start();
      await this.refreshStatus();
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
            if (!params.uri.endsWith('.md')) {
              return next(params, token);
            }
            // The server's result documents (an explanation, a refused edit): shown rendered.
            this.lastDocument = vscode.Uri.parse(params.uri);
            await showRendered(this.lastDocument, !!params.takeFocus);
            return { success: true };
          },
        },
      },
    };
  }

  private runningClient(): LanguageClient {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      throw new Error('The gemma-lsp server is not running: see the Gemma LSP output, then run "Gemma: Restart Server".');
    }
    return client;
  }

  /** Sends a model request that Cancel reaches and the status bar and panel show (``label``: what it is). */
  private async tracked<T>(label: string, send: (client: LanguageClient, token: vscode.CancellationToken) => Promise<T>): Promise<T> {
    const client = this.runningClient();
    this.panel.start(label);
    const source = new vscode.CancellationTokenSource();
    this.running.add(source);
    this.status.request(1);
    try {
      return await send(client, source.token);
    } finally {
      this.running.delete(source);
      source.dispose();
      this.status.request(-1);
      void this.refreshStatus();
    }
  }

  /** One of the server's commands on [uri, range] (workspace/executeCommand). */
  async execute(command: string, uri: vscode.Uri, range: vscode.Range, label = 'Gemma'): Promise<unknown> {
    return this.tracked(label, (client, token) => {
      const converter = client.code2ProtocolConverter;
      const args = [converter.asUri(uri), converter.asRange(range)];
      return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token);
    });
  }

  /**
   * The server's code action `key` at [uri, range], resolved (codeAction/resolve runs the model
   * and, for an edit, verification); `instruction` rides in its data (Refactor reads it).
   * Undefined when the server does not offer that action there.
   */
  async resolveAction(key: string, uri: vscode.Uri, range: vscode.Range, instruction?: string, refine?: boolean): Promise<CodeAction | undefined> {
    const client = this.runningClient();
    const converter = client.code2ProtocolConverter;
    const params = { textDocument: { uri: converter.asUri(uri) }, range: converter.asRange(range), context: { diagnostics: [] } };
    const offered = (await client.sendRequest(CodeActionRequest.type, params)) ?? [];
    const action = offered.find((item): item is CodeAction => 'data' in item && (item.data as { action?: string } | undefined)?.action === key);
    if (!action) {
      return undefined;
    }
    if (instruction) {
      action.data = { ...(action.data as object), instruction, ...(refine ? { refine: true } : {}) };
    }
    return this.tracked(action.title, (running, token) => running.sendRequest(CodeActionResolveRequest.type, action, token));
  }

  /** Asks the server what it runs (gemma/status) and shows it in the status bar. */
  async refreshStatus(): Promise<ServerStatus | undefined> {
    const client = this.client;
    if (!client || client.state !== State.Running) {
      return undefined;
    }
    try {
      const status = await client.sendRequest<ServerStatus>(STATUS_REQUEST, {}); // pygls needs params
      this.status.server(status);
      if (status.busy && !this.statusPoll) {
        // A request finishing, or one from the light bulb or another editor: ask again until idle.
        this.statusPoll = setTimeout(() => {
          this.statusPoll = undefined;
          void this.refreshStatus();
        }, 1000);
      }
      return status;
    } catch (error) {
      this.output.appendLine(`gemma/status: ${error}`); // an older server: the bar shows the setting
      return undefined;
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
    void this.client
      ?.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: serverSettings() } })
      .then(() => this.refreshStatus());
  }

  async stop(): Promise<void> {
    this.cancel();
    clearTimeout(this.statusPoll);
    this.statusPoll = undefined;
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
