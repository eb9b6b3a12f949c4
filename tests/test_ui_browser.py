"""The chat UI as a person uses it: `rag serve` in a subprocess, Debian's chromium driven by
Playwright (never a downloaded browser; `scripts/install_browser.sh` installs it).

The server gets a copy of the real index in a temporary folder, so the re-index button does not
rewrite index/ under other work. Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import rag

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ABSTAIN_ZH = "所检索的论文中没有找到这个问题的答案"
ANSWER_TIMEOUT_MS = 90_000

if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium: run scripts/install_browser.sh", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_index() -> rag.Settings:
    """The real index folder, built if it is missing."""
    settings = rag.Settings.load()
    try:
        rag.load(settings)
    except rag.IndexNotFoundError:
        rag.build_index(settings)
    return settings


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"rag serve exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"rag serve did not answer on {url} within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


CORPUS_COPY: dict[str, Path] = {}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = ensure_index()
    tmp = tmp_path_factory.mktemp("ui")
    index_copy = tmp / "index"
    shutil.copytree(settings.index_dir, index_copy)
    # A copy of the corpus too: fixing a record in the library tab writes its catalog.toml.
    shutil.copytree(ROOT / "corpus", CORPUS_COPY.setdefault("dir", tmp / "corpus"))
    port = free_port()
    log = tmp / "serve.log"
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(index_copy),
        "RAG_CORPUS_DIR": str(CORPUS_COPY["dir"]),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator[object]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True, locale="zh-CN")
        pg = context.new_page()
        pg.goto(app_url)
        pg.locator("#rag-question textarea").wait_for()
        yield pg
        context.close()
        browser.close()


def containing(fragment: str) -> re.Pattern[str]:
    return re.compile(re.escape(fragment))


def shot(pg, name: str) -> None:  # noqa: ANN001
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def ask(pg, question: str):  # noqa: ANN001, ANN201
    """Type a question, press Enter, wait for the answer bubble; returns it."""
    bubbles = pg.locator("#rag-chat .rag-msg, #rag-chat .rag-error")
    before = bubbles.count()
    box = pg.locator("#rag-question textarea")
    box.fill(question)
    box.press("Enter")
    sync_api.expect(bubbles).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    return bubbles.nth(before)


def test_chat_journey(page) -> None:  # noqa: ANN001
    expect = sync_api.expect

    # A Chinese question: cited answer, sources panel with the quote and the sentence marked.
    zh = ask(page, "中国已成为多少个国家和地区的主要贸易伙伴？")
    expect(zh).to_contain_text("150 多个")
    expect(zh.locator("a.rag-cite").first).to_have_text("[1]")
    expect(zh.locator(".rag-standalone")).to_contain_text("中国已成为多少个国家和地区的主要贸易伙伴")
    first_card_id = zh.locator("a.rag-cite").first.get_attribute("href")[1:]
    card = page.locator(f"#{first_card_id}")
    expect(card.locator("blockquote")).to_contain_text("主要贸易伙伴")
    expect(card.locator("mark")).to_contain_text("150 多个国家和地区")
    expect(card.locator(".rag-meta")).to_contain_text("score")
    shot(page, "01_zh_answer")

    # A follow-up: the earlier standalone question is carried into the search.
    follow = ask(page, "那它的货物贸易总额排名呢？")
    expect(follow.locator(".rag-standalone")).to_contain_text("主要贸易伙伴")
    expect(follow.locator(".rag-standalone")).to_contain_text("货物贸易总额排名")
    expect(follow).to_contain_text("全球第一")

    # An English question over the Chinese papers.
    en = ask(page, "Of how many countries and regions is China the main trading partner?")
    expect(en).to_contain_text("150")
    expect(en.locator("a.rag-cite").first).to_be_visible()
    shot(page, "02_three_answers")

    # Clicking the first answer's [1] brings its (now lower) source card into view, highlighted.
    page.mouse.wheel(0, 2000)
    zh.locator("a.rag-cite").first.click()
    expect(card).to_have_class(re.compile(r"\brag-active\b"))
    expect(card).to_be_in_viewport()
    assert page.locator(".rag-src.rag-active").count() == 1
    shot(page, "03_citation_clicked")

    # Copy for writing: footnotes, GB/T 7714 and BibTeX.
    page.locator("#rag-copy-writing").click()
    writing = page.locator("#rag-writing textarea")
    expect(writing).to_have_value(containing("[J]"), timeout=15_000)
    text = writing.input_value()
    assert "[^1]" in text and "GB/T 7714-2025" in text and "，2025" in text, text
    shot(page, "04_copy_for_writing")
    # The other edition, then a reference manager's format, chosen from the dropdowns.
    page.locator("#rag-style input").click()
    page.get_by_role("option", name="GB/T 7714-2015").click()
    expect(writing).to_have_value(containing("GB/T 7714-2015"), timeout=15_000)
    assert ", 2025" in writing.input_value()
    page.locator("#rag-format input").click()
    page.get_by_role("option", name="BibTeX").click()
    expect(writing).to_have_value(containing("@article{"), timeout=15_000)
    page.locator("#rag-format input").click()
    page.get_by_role("option", name=re.compile("Markdown")).click()

    # The JSON download of the last exchange.
    with page.expect_download() as info:
        page.locator("#rag-download").click()
    record = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert record["question"].startswith("Of how many countries")
    assert record["answer"]["citations"] and record["answer"]["passages"][0]["score"] is not None
    assert record["settings"]["k"] >= 1 and record["request"]["k"] >= 1

    # A new conversation (a short question after another counts as its follow-up in rag's
    # condensing), then an unanswerable question: said plainly, passages listed as related.
    page.locator("#rag-clear").click()
    expect(page.locator("#rag-chat .rag-msg")).to_have_count(0)
    expect(page.locator("#rag-sources .rag-turn")).to_have_count(0)
    no = ask(page, "红烧肉怎么做？")
    expect(no).to_contain_text(ABSTAIN_ZH)
    expect(no.locator("a.rag-cite")).to_have_count(0)
    newest = page.locator("#rag-sources .rag-turn").first
    expect(newest.locator(".rag-kind")).to_contain_text("相关段落")
    expect(newest.locator("[id^=src-]")).to_have_count(0)
    shot(page, "05_abstained")

    # A question the library rejects: a readable message, then the app keeps answering.
    bad = ask(page, "？？")
    expect(bad).to_have_class("rag-error")
    expect(bad).not_to_contain_text("Traceback")
    again = ask(page, "中国已成为多少个国家和地区的主要贸易伙伴？")
    expect(again).to_contain_text("150 多个")
    shot(page, "06_error_then_answer")


def test_settings_restrict_to_paper(page) -> None:  # noqa: ANN001
    expect = sync_api.expect
    page.locator("#rag-settings").get_by_text("设置 Settings").click()
    boxes = page.locator("#rag-papers input[type=checkbox]")
    expect(boxes).to_have_count(len(rag.load(rag.Settings.load()).papers))
    page.locator("#rag-papers label").filter(has_text="中国跨境电商发展的困境及其对策研究").click()
    answer = ask(page, "跨境电商面临哪些问题？")
    expect(answer).to_contain_text("[1]")
    titles = page.locator("#rag-sources .rag-turn").first.locator(".rag-title").all_text_contents()
    assert titles and all(t == "中国跨境电商发展的困境及其对策研究" for t in titles), titles
    shot(page, "07_restricted")
    page.locator("#rag-papers label").filter(has_text="中国跨境电商发展的困境及其对策研究").click()


def test_library_and_reindex(page) -> None:  # noqa: ANN001
    expect = sync_api.expect
    page.get_by_role("tab", name="文献库 Library").click()
    table = page.locator("#rag-library")
    expect(table).to_contain_text("10.12677/ecl.2025.1461855")
    expect(table).to_contain_text("中国跨境电商发展的困境及其对策研究")
    page.locator("#rag-reindex").click()
    status = page.locator("#rag-reindex-status")
    expect(status).to_contain_text("Index updated", timeout=240_000)
    expect(status).to_contain_text("chunks")
    shot(page, "08_library")
    # Fixing a record: written to the corpus's catalog.toml (its comments kept), then re-indexed.
    page.locator("#rag-record").get_by_text("修改著录信息").click()
    page.locator("#rag-record-paper input").click()
    page.get_by_role("option", name=re.compile("002_268bfb1f0d63e3bd")).click()
    # the paper's record loads into the form first (else it may overwrite what is typed next)
    expect(page.locator("#rag-record-year textarea")).to_have_value("2025", timeout=30_000)
    page.locator("#rag-record-title textarea").fill("数字经济背景下我国跨境电商发展现状、挑战与对策")
    page.locator("#rag-record-authors textarea").fill("张三; Li, Ming")
    page.locator("#rag-record-save").click()
    expect(status).to_contain_text(re.compile(r"catalog\.toml.*Index updated"), timeout=240_000)
    expect(table).to_contain_text("数字经济背景下我国跨境电商发展现状、挑战与对策")
    expect(table).to_contain_text("title: catalog.toml")
    catalog = (CORPUS_COPY["dir"] / "catalog.toml").read_text(encoding="utf-8")
    assert 'title = "数字经济背景下我国跨境电商发展现状、挑战与对策"' in catalog
    assert 'authors = ["张三", "Li, Ming"]' in catalog and catalog.startswith("# Metadata that the text files")
    shot(page, "09_record_fixed")
    page.get_by_role("tab", name="对话 Chat").click()
    after = ask(page, "中国已成为多少个国家和地区的主要贸易伙伴？")
    expect(after).to_contain_text("150 多个")
