#!/usr/bin/env bash
# The e2e suite inside a network namespace whose only interface is loopback (`unshare -n`), brought
# up inside: the proof that the server, the model and the remote backend's test engine on
# 127.0.0.1 need no network. Needs root. Extra arguments go to pytest; PYTHON picks the
# interpreter (default: python, the active virtual environment's).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec unshare --net -- bash -c '
set -euo pipefail
ip link set lo up
interfaces=$(ip -o link show | awk -F": " "{print \$2}" | tr "\n" " ")
if [ "$interfaces" != "lo " ]; then
    echo "run_offline: expected only the loopback interface, found: $interfaces" >&2
    exit 2
fi
echo "run_offline: network namespace with interfaces: $interfaces"
exec "$0" -m pytest tests/e2e "$@"
' "${PYTHON:-python}" "$@"
