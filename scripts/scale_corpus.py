"""A large folder of real Chinese prose, for benchmarks that need a library of 10,000+ chunks.

    python scripts/scale_corpus.py [--out DIR] [--force] [--min-chars N]

Made, not downloaded: every document is text from Debian packages (SOURCES;
`bash scripts/install_scale_corpus.sh` installs them when missing): the Chinese manual pages of
`manpages-zh`, typeset by groff as scripts/distractors.py does; the HTML help of LibreOffice (the
zh-CN translation and Taiwan's own zh-TW one), the kernel documentation's Chinese translations,
the Debian Reference, Administrator's Handbook, Installation Guide, FAQ and maintainers' guides in
Chinese, read with lxml; and fortunes-zh's sayings, classics and Tang and Song poems.
Navigation, tables of contents, scripts, code blocks, boilerplate and lines without a single
Chinese character are dropped. A page longer than MAX_CHARS characters is cut at paragraph
boundaries into several documents; a document is kept when it is real Chinese prose (at least
MIN_HAN Chinese characters making at least MIN_HAN_SHARE of its non-blank characters) and is not
identical to one kept before. File names come from the package and the page
(`libreoffice-help-zh-cn--text_swriter_guide_autocorr_except-01.txt`), the same on every build.

Cached: the output folder carries a stamp (hash of this file, of scripts/distractors.py and of the
packages' versions); a matching stamp means nothing to do. The set is written into a temporary
folder and renamed into place, so a killed build never leaves half a set (the next build removes
what it left).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # scripts/ is not a package; tests load this file by path
    sys.path.insert(0, str(HERE))
import distractors  # noqa: E402  (its groff rendering of a manual page)

ROOT = HERE.parent
DEFAULT_OUT = ROOT / "build" / "scale-corpus"
MIN_HAN = 150  # Chinese characters a document needs: less is a stub, a list of links or of options
MIN_HAN_SHARE = 0.5  # of a document's non-blank characters: the rest is Latin names, digits, punctuation
MAX_CHARS = 3000  # a longer page is cut into documents of at most this many characters
MIN_DOCUMENTS = 1500
# Characters in all documents. The project's chunks (350 characters, 80 of overlap, cut at
# sentences) hold about 260 new characters each in these documents: 12,000 chunks need ~3.1 million.
MIN_CHARS = 3_500_000
HAN = re.compile(r"[\u3400-\u9fff]")
SENTENCE_END = re.compile(r"(?<=[。！？；])")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # fortune files colour titles and authors
BOLD_HEADING = "\x1b[37;1m"
# The kernel translations' disclaimer, above every page.
BOILERPLATE = ("此文件的目的是为让中文读者更容易阅读和理解", "如果您发现本文档与原始文件有任何不同或者有翻译问题")
# HTML that is not the page's prose: navigation, tables of contents, index terms, hidden
# platform variants (LibreOffice's "命令" for macOS next to "Ctrl"), code and program output.
DROP = (
    "//head|//script|//style|//noscript|//header|//footer|//aside|//nav|//pre|//comment()"
    "|//*[@role='navigation' or @role='search']"
    "|//*[@hidden and not(starts-with(@id, 'default'))]"  # LibreOffice shows the default variant
    "|//*[@id='DEBUG' or @id='SearchFrame' or @id='DonationFrame' or @id='banner' or @id='title']"
    + "".join(
        f"|//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"
        for name in (
            *("navheader", "navfooter", "docnav", "toc", "list-of-tables", "list-of-figures", "headerlink"),
            *("indexterm", "reportbug", "related", "field-list"),  # index anchors, "相关主题", translators
        )
    )
)
BLOCKS = {"p", "div", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "br", "table",
          "blockquote", "caption", "section", "ul", "ol", "dl", "title", "hr"}  # fmt: skip

logger = logging.getLogger("scale_corpus")


@dataclass(frozen=True)
class Source:
    """The pages one package ships: its files under `folder` whose names match `pattern` in full."""

    package: str
    folder: str
    pattern: str  # regular expression for a file name
    read: Callable[[Path], list[str]]  # one page -> its paragraphs


def html_paragraphs(page: Path) -> list[str]:
    """The paragraphs of one HTML page as plain text, parsed by lxml, without the DROP parts."""
    import lxml.html

    root = lxml.html.parse(str(page), lxml.html.HTMLParser(encoding="utf-8")).getroot()
    if root is None:
        return []
    for node in root.xpath(DROP):
        if node.getparent() is not None:
            node.drop_tree()  # keeps the text that follows it
    for node in root.iter():
        node.text, node.tail = _flow(node.text), _flow(node.tail)
    for node in root.iter(*BLOCKS):
        node.text, node.tail = "\n" + (node.text or ""), "\n" + (node.tail or "")
    return [" ".join(line.split()) for line in root.text_content().split("\n")]


def _flow(text: str | None) -> str | None:
    """Source line breaks as a browser shows them: none between two Chinese characters, one space
    elsewhere (the manuals wrap their Chinese paragraphs at about 80 columns)."""
    if text is None:
        return None
    text = re.sub(r"(?<=[\u3400-\u9fff，。、；：！？）」』”])\s*\n\s*(?=[\u3400-\u9fff（「『“])", "", text)
    return re.sub(r"\s+", " ", text)


def manpage_paragraphs(page: Path) -> list[str]:
    """One manual page typeset by groff (distractors.render): one line per paragraph. Some were
    translated from HTML and kept its entities ("tm-&gt;when"): they are decoded."""
    return html.unescape(distractors.render(page)).split("\n")


def fortune_paragraphs(page: Path) -> list[str]:
    """One fortune file (entries between lines of "%"; sayings, classics, Tang and Song poems) as
    lines without their terminal colours. Entries with a bold heading are sections of the Debian
    Reference, which debian-reference-zh-cn gives in full: they are left out."""
    entries = page.read_text(encoding="utf-8").split("\n%\n")
    kept = [ANSI.sub("", entry) for entry in entries if BOLD_HEADING not in entry]
    return [" ".join(line.split()) for entry in kept for line in entry.splitlines()]


ZH_CN_HTML = r".*\.zh-cn\.html"  # the Debian manuals put every language's pages in one folder
SOURCES = (
    Source("manpages-zh", "/usr/share/man/zh_CN", r".*\.gz", manpage_paragraphs),
    Source("libreoffice-help-zh-cn", "/usr/share/libreoffice/help/zh-CN", r".*\.html", html_paragraphs),
    # Taiwan's own translation of the same help, not a conversion of the zh-CN one.
    Source("libreoffice-help-zh-tw", "/usr/share/libreoffice/help/zh-TW", r".*\.html", html_paragraphs),
    Source("linux-doc-6.1", "/usr/share/doc/linux-doc-6.1/html/translations/zh_CN", r".*\.html", html_paragraphs),
    Source("fortunes-zh", "/usr/share/games/fortunes", r"[a-z0-9]+", fortune_paragraphs),
    Source("debian-reference-zh-cn", "/usr/share/debian-reference", ZH_CN_HTML, html_paragraphs),
    Source("debian-handbook", "/usr/share/doc/debian-handbook/html/zh-CN", r".*\.html", html_paragraphs),
    Source("installation-guide-amd64", "/usr/share/doc/installation-guide-amd64/zh_CN", r".*\.html", html_paragraphs),
    Source("debmake-doc", "/usr/share/doc/debmake-doc/html", ZH_CN_HTML, html_paragraphs),
    Source("debian-faq-zh-cn", "/usr/share/doc/debian/FAQ/zh-cn", ZH_CN_HTML, html_paragraphs),
    Source("maint-guide-zh-cn", "/usr/share/doc/maint-guide-zh-cn/html", ZH_CN_HTML, html_paragraphs),
)
INSTALL_HINT = "run `bash scripts/install_scale_corpus.sh`"


def package_versions() -> dict[str, str]:
    """{package: installed version} for every package of SOURCES; an error names the missing ones."""
    versions, missing = {}, []
    for source in SOURCES:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Status}\t${Version}", source.package], capture_output=True, text=True
        )
        status, _, version = out.stdout.partition("\t")
        if out.returncode != 0 or not status.endswith("ok installed") or not Path(source.folder).is_dir():
            missing.append(source.package)
        versions[source.package] = version
    if missing:
        raise RuntimeError(f"not installed: {', '.join(missing)}; {INSTALL_HINT}")
    return versions


def fingerprint(versions: dict[str, str]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes() + Path(distractors.__file__).read_bytes())
    digest.update(json.dumps(versions, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def page_files(source: Source) -> list[Path]:
    """The package's own files (dpkg -L) under its folder, symbolic links left out, sorted."""
    out = subprocess.run(["dpkg", "-L", source.package], capture_output=True, text=True, check=True)
    paths = (Path(line) for line in out.stdout.splitlines() if line.startswith(source.folder + "/"))
    return sorted(p for p in paths if re.fullmatch(source.pattern, p.name) and p.is_file() and not p.is_symlink())


def is_prose(text: str) -> bool:
    han = len(HAN.findall(text))
    return han >= MIN_HAN and han >= MIN_HAN_SHARE * len("".join(text.split()))


def cut(paragraphs: list[str]) -> Iterator[str]:
    """The page's paragraphs with a Chinese character in them, gathered into documents of at most
    MAX_CHARS characters; a longer paragraph is cut after a sentence."""
    piece: list[str] = []
    size = 0
    for paragraph in (p for p in paragraphs if HAN.search(p) and not any(b in p for b in BOILERPLATE)):
        for part in _sentences_within(paragraph):
            if piece and size + 1 + len(part) > MAX_CHARS:
                yield "\n".join(piece)
                piece, size = [], 0
            piece.append(part)
            size += len(part) + 1
    if piece:
        yield "\n".join(piece)


def _sentences_within(paragraph: str) -> Iterator[str]:
    """The paragraph in parts of at most MAX_CHARS characters, cut after 。！？； where there is one."""
    while len(paragraph) > MAX_CHARS:
        ends = [m.start() for m in SENTENCE_END.finditer(paragraph, 1, MAX_CHARS + 1)]
        at = ends[-1] if ends else MAX_CHARS
        yield paragraph[:at]
        paragraph = paragraph[at:]
    yield paragraph


def file_name(source: Source, page: Path, part: int) -> str:
    """`.../zh-CN/text/swriter/guide/autocorr_except.html`, part 1 ->
    `libreoffice-help-zh-cn--text_swriter_guide_autocorr_except-01.txt` (the document id is the stem)."""
    relative = re.sub(r"(\.zh-cn)?\.(html|gz)$", "", str(page.relative_to(source.folder)))
    return f"{source.package}--{re.sub(r'[^A-Za-z0-9_+-]', '_', relative)}-{part:02d}.txt"


def build_all(out: Path) -> dict[str, dict[str, str]]:
    """Writes the documents into `out`; returns {file name: {"package", "source"}}."""
    kept: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for source in SOURCES:
        files = page_files(source)
        with ThreadPoolExecutor(2) as pool:  # groff runs as a subprocess, lxml parses outside the GIL
            texts = list(pool.map(source.read, files))
        before = len(kept)
        for page, paragraphs in zip(files, texts, strict=True):
            for part, text in enumerate(cut(paragraphs), 1):
                digest = hashlib.sha256(text.encode()).hexdigest()
                if not is_prose(text) or digest in seen:  # help pages repeat whole sections
                    continue
                seen.add(digest)
                name = file_name(source, page, part)
                (out / name).write_text(text + "\n", encoding="utf-8")
                kept[name] = {"package": source.package, "source": str(page)}
        logger.info("%s: %d documents from %d pages", source.package, len(kept) - before, len(files))
    return kept


@dataclass
class Counts:
    documents: int = 0
    characters: int = 0
    han: int = 0  # Chinese characters

    def add(self, text: str) -> None:
        self.documents += 1
        self.characters += len(text)
        self.han += len(HAN.findall(text))


def summary(out: Path) -> dict[str, Counts]:
    """Counts of a built folder per package, and under "all" for the whole folder."""
    documents = json.loads((out / "sources.json").read_text(encoding="utf-8"))["documents"]
    counts: dict[str, Counts] = {"all": Counts()}
    for name, origin in documents.items():
        text = (out / name).read_text(encoding="utf-8")
        counts["all"].add(text)
        counts.setdefault(origin["package"], Counts()).add(text)
    return counts


def build(out: Path = DEFAULT_OUT, *, force: bool = False, min_chars: int = MIN_CHARS) -> Path:
    """Builds the documents into `out` unless its stamp is current; returns `out`. Raises
    RuntimeError when fewer than MIN_DOCUMENTS documents or `min_chars` characters come out."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    versions = package_versions()
    stamp = fingerprint(versions)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second builder waits, then finds the stamp current
        if not force and (out / "stamp").is_file() and (out / "stamp").read_text().strip() == stamp:
            logger.info("%s is up to date", out)
            return out
        started = time.monotonic()
        for stale in out.parent.glob(f".{out.name}.*"):  # what a killed build left behind
            if stale.is_dir():
                shutil.rmtree(stale)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            kept = build_all(tmp)
            sources = {"packages": versions, "documents": kept}
            (tmp / "sources.json").write_text(json.dumps(sources, ensure_ascii=False, indent=1), encoding="utf-8")
            made = summary(tmp)["all"]
            if made.documents < MIN_DOCUMENTS or made.characters < min_chars:
                raise RuntimeError(
                    f"only {made.documents:,} documents of {made.characters:,} characters came out; "
                    f"need {MIN_DOCUMENTS:,} and {min_chars:,} (is a package's layout different? {INSTALL_HINT})"
                )
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


def render_summary(out: Path, counts: dict[str, Counts]) -> str:
    lines = [f"{'':<26}{'documents':>10}{'characters':>12}{'Chinese':>12}"]
    for package, c in counts.items():
        lines.append(f"{package:<26}{c.documents:>10,}{c.characters:>12,}{c.han:>12,}")
    return "\n".join([f"{out}:", *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default build/scale-corpus)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp is current")
    parser.add_argument(
        "--min-chars", type=int, default=MIN_CHARS, help=f"fail when fewer characters come out (default {MIN_CHARS:,})"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        out = build(args.out, force=args.force, min_chars=args.min_chars)
    except (RuntimeError, OSError, subprocess.SubprocessError, ImportError) as exc:  # lxml: `make setup`
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render_summary(out, summary(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
