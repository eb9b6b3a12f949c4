"""Unrelated Chinese documents for measuring quality under dilution (`rag eval --distractors`).

    python scripts/distractors.py [--out DIR] [--force]

Made, not downloaded: every document is one page of Debian's `manpages-zh` (the Chinese manual
pages in /usr/share/man/zh_CN; `bash scripts/install_manpages_zh.sh` installs it when missing),
typeset to plain text by groff and kept when it is real Chinese prose: at least MIN_HAN Chinese
characters making at least MIN_HAN_SHARE of its non-blank characters. Long pages are cut at a line
boundary after MAX_CHARS characters, so each document is a few hundred to a few thousand
characters. None is about commerce: a page that mentions TOPIC_WORDS is left out.

Cached: the output folder carries a stamp (hash of this file and the package's version); a
matching stamp means nothing to do. The set is written into a temporary folder and renamed into
place, so a killed build never leaves half a set.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "distractors"
PACKAGE = "manpages-zh"
SOURCE = Path("/usr/share/man/zh_CN")
MIN_HAN = 300  # Chinese characters a document needs: less is a stub or an option list
MIN_HAN_SHARE = 0.35  # of the non-blank characters: option tables and code are mostly Latin
MAX_CHARS = 3000  # a long manual page is cut here, at a line boundary
MIN_DOCUMENTS = 300
TOPIC_WORDS = ("跨境", "电商", "电子商务", "外贸", "贸易", "进出口")
HAN = re.compile(r"[\u3400-\u9fff]")
# groff: man macros, UTF-8 input (-k), no hyphenation, one very long line per paragraph so that
# no justification spaces are put between Chinese characters; no overstrikes or colours.
GROFF = ["groff", "-k", "-man", "-Tutf8", "-rLL=3000n", "-rHY=0", "-P-cbou"]
HEADER = re.compile(r"^\S+\(\w+\)\s")  # "LS(1)   用户命令   LS(1)"
FOOTER = re.compile(r"\S+\(\w+\)$")  # "10 Jan 1996      APM(1)"
BOILERPLATE = ("手册页计划", "手册页翻译计划", "linuxforum.net", "man-pages-zh")  # translators' credit lines

logger = logging.getLogger("distractors")


def package_version() -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", PACKAGE], capture_output=True, text=True, check=False)
    if out.returncode != 0 or not SOURCE.is_dir():
        raise RuntimeError(f"{PACKAGE} is not installed; run `bash scripts/install_manpages_zh.sh`")
    return out.stdout.strip()


def fingerprint() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(package_version().encode())
    return digest.hexdigest()[:16]


def render(page: Path) -> str:
    """One manual page as plain text: header, footer and credit lines dropped, indentation and
    runs of spaces removed."""
    source = gzip.decompress(page.read_bytes()) if page.suffix == ".gz" else page.read_bytes()
    out = subprocess.run(GROFF, input=source, capture_output=True, check=False, timeout=60)
    lines = [" ".join(line.split()) for line in out.stdout.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and not any(b in line for b in BOILERPLATE)]
    if lines and HEADER.match(lines[0]):
        lines = lines[1:]
    if lines and FOOTER.search(lines[-1]):
        lines = lines[:-1]
    return "\n".join(lines)


def cut(text: str) -> str:
    """At most MAX_CHARS characters, ending at a line boundary."""
    if len(text) <= MAX_CHARS:
        return text
    head = text[:MAX_CHARS]
    return head[: head.rfind("\n")] if "\n" in head else head


def is_prose(text: str) -> bool:
    han = len(HAN.findall(text))
    visible = len(re.sub(r"\s", "", text))
    return han >= MIN_HAN and han >= MIN_HAN_SHARE * visible and not any(w in text for w in TOPIC_WORDS)


def file_name(page: Path) -> str:
    """`ls.1.gz` in man1 -> `manzh-1-ls.txt` (the document id is the stem)."""
    name = page.name.removesuffix(".gz")
    stem, _, section = name.rpartition(".")
    return f"manzh-{section}-{re.sub(r'[^A-Za-z0-9_+-]', '_', stem)}.txt"


def build_all(out: Path) -> dict[str, str]:
    pages = sorted(p for p in SOURCE.glob("man*/*") if p.is_file() and not p.is_symlink())
    with ThreadPoolExecutor(2) as pool:
        texts = list(pool.map(render, pages))
    kept: dict[str, str] = {}
    seen: set[str] = set()
    for page, text in zip(pages, texts, strict=True):
        text = cut(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if not is_prose(text) or digest in seen:  # the same page under two names counts once
            continue
        seen.add(digest)
        name = file_name(page)
        (out / name).write_text(text + "\n", encoding="utf-8")
        kept[name] = str(page)
    if len(kept) < MIN_DOCUMENTS:
        raise RuntimeError(f"only {len(kept)} of {len(pages)} pages in {SOURCE} are prose; need {MIN_DOCUMENTS}")
    logger.info("%d of %d manual pages kept as documents", len(kept), len(pages))
    return kept


def build(out: Path = DEFAULT_OUT, *, force: bool = False) -> Path:
    """Builds the documents into `out` unless its stamp is current; returns `out`."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = fingerprint()
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second builder waits, then finds the stamp current
        if not force and (out / "stamp").is_file() and (out / "stamp").read_text().strip() == stamp:
            logger.info("%s is up to date", out)
            return out
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            kept = build_all(tmp)
            sources = {"package": PACKAGE, "version": package_version(), "documents": kept}
            (tmp / "sources.json").write_text(json.dumps(sources, ensure_ascii=False, indent=1), encoding="utf-8")
            (tmp / "stamp").write_text(stamp + "\n")
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            if out.exists():
                os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        logger.info("built %s in %.1f s", out, time.monotonic() - started)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default build/distractors)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp is current")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        out = build(args.out, force=args.force)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    count = sum(1 for _ in out.glob("*.txt"))
    print(f"{count} distractor documents in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
