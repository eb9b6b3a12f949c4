#!/usr/bin/env bash
# Installs what scripts/pdf_fixtures.py needs to typeset the PDF test fixtures: xelatex with ctex
# and the Fandol fonts, poppler's pdftoppm/pdftotext, img2pdf, qpdf and Noto CJK.
# Idempotent: does nothing when all of them are already there. Only Debian's packages.
set -euo pipefail

have_all() {
    command -v xelatex >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
        && command -v pdftotext >/dev/null 2>&1 && command -v img2pdf >/dev/null 2>&1 \
        && command -v qpdf >/dev/null 2>&1 && command -v kpsewhich >/dev/null 2>&1 \
        && kpsewhich ctexart.cls >/dev/null 2>&1 && kpsewhich zref-abspage.sty >/dev/null 2>&1 \
        || return 1
    # Read the font list whole: `fc-list | grep -q` can die of SIGPIPE, which pipefail reports.
    local fonts
    fonts="$(fc-list : family 2>/dev/null || true)"
    grep -qi "Noto Serif CJK SC" <<<"$fonts" && grep -qi "Noto Sans CJK SC" <<<"$fonts"
}

if have_all; then
    echo "texlive already installed: $(xelatex --version | head -n 1)"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
    texlive-xetex texlive-lang-chinese texlive-latex-extra poppler-utils img2pdf qpdf fonts-noto-cjk
xelatex --version | head -n 1
