#!/usr/bin/env bash
# Installs Debian's chromium and a CJK font for the browser tests (tests/test_ui_browser.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Never downloads a browser
# build of its own (Playwright's `install` is not used): only Debian's packages.
set -euo pipefail

if [[ -x /usr/bin/chromium ]] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-noto-cjk
/usr/bin/chromium --version
