// The `gemmaLsp` settings: the server's own (sent as initializationOptions, answered on
// workspace/configuration, pushed on change) and the client's (how to start the server).
import * as vscode from 'vscode';

export const SECTION = 'gemmaLsp';

/** Settings that only the extension reads; the server would call them unknown. */
const CLIENT_ONLY = ['pythonPath', 'trace'];

/** The server's settings as plain JSON, e.g. {model: {path, nCtx, ...}, logLevel}. */
export function serverSettings(scope?: vscode.ConfigurationScope): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  const plain = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  for (const key of CLIENT_ONLY) {
    delete plain[key];
  }
  return plain;
}

/** The interpreter to run `-m lsp_server serve` with: the setting, the Python extension's, python3. */
export async function pythonPath(resource?: vscode.Uri): Promise<string> {
  const configured = vscode.workspace.getConfiguration(SECTION, resource).get<string>('pythonPath');
  if (configured) {
    return configured;
  }
  return (await pythonExtensionInterpreter(resource)) ?? 'python3';
}

async function pythonExtensionInterpreter(resource?: vscode.Uri): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension('ms-python.python');
  if (!extension) {
    return undefined;
  }
  try {
    // The Python extension's public API (environments.getActiveEnvironmentPath / resolveEnvironment).
    const api: any = extension.isActive ? extension.exports : await extension.activate();
    const active = api?.environments?.getActiveEnvironmentPath?.(resource);
    const resolved = active ? await api.environments.resolveEnvironment(active) : undefined;
    return resolved?.executable?.uri?.fsPath ?? active?.path;
  } catch {
    return undefined;
  }
}

/** What the status bar names as the model. */
export function modelName(): string {
  const path = vscode.workspace.getConfiguration(SECTION).get<string>('model.path');
  return path ? path.split(/[\\/]/).pop()! : 'default model';
}
