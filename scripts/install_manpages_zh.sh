#!/usr/bin/env bash
# Installs what scripts/distractors.py reads: Debian's Chinese manual pages (manpages-zh) and groff
# to typeset them as plain text. Idempotent: does nothing when both are already there.
set -euo pipefail

if dpkg-query -W -f '${Status}' manpages-zh 2>/dev/null | grep -q "ok installed" && command -v groff >/dev/null 2>&1; then
    echo "manpages-zh already installed: $(dpkg-query -W -f '${Version}' manpages-zh)"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends manpages-zh groff-base
