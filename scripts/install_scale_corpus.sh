#!/usr/bin/env bash
# Installs what scripts/scale_corpus.py reads (its SOURCES): Debian's manuals and help pages in
# Chinese, and groff to typeset the manual pages as plain text. About 500 MB installed, most of it
# linux-doc-6.1 and debian-handbook (they ship every language) and LibreOffice's common files.
# Idempotent: does nothing when all are already there.
set -euo pipefail

PACKAGES=(
    manpages-zh groff-base
    libreoffice-help-zh-cn libreoffice-help-zh-tw
    linux-doc-6.1 fortunes-zh debian-reference-zh-cn debian-handbook installation-guide-amd64
    debmake-doc debian-faq-zh-cn maint-guide-zh-cn
)

missing=()
for package in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$package")
    fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "scale-corpus packages already installed (${#PACKAGES[@]})"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
