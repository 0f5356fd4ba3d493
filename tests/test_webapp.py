"""The real app: named API endpoints through gradio_client, and the page in headless Chromium."""

from __future__ import annotations

import pytest

from conftest import launch_browser


def ask_in_page(page, url: str, question: str):
    """Open the page, ask ``question`` and wait for the first source card: (input box, card)."""
    page.goto(url)
    box = page.locator("#ipbot-input textarea")
    box.wait_for(timeout=60_000)
    box.fill(question)
    box.press("Enter")
    card = page.locator("details.source-card").first
    card.wait_for(state="visible", timeout=60_000)
    return box, card


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_named_endpoints(client):
    assert {"/ask", "/search"} <= set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def test_api_ask_and_followup(client):
    first = client.predict("烟台成果贷前三季度帮企业贷了多少？", api_name="/ask")
    assert first["answered"] and "35亿元" in first["text"]
    assert first["citations"][0]["title"] and first["quotes"]
    history = [{"role": "user", "content": "烟台成果贷前三季度帮企业贷了多少？"},
               {"role": "assistant", "content": first["text"]}]
    follow = client.predict("那科信贷呢？", history, api_name="/ask")
    assert follow["answered"] and "6.1亿元" in follow["text"]


def test_api_refusal(client):
    ans = client.predict("怎么在欧洲申请外观设计专利", api_name="/ask")
    assert not ans["answered"] and "没有找到" in ans["text"]


def test_api_search_with_filter(client):
    hits = client.predict("知识产权质押融资", 5, "烟台", "", api_name="/search")
    assert hits and all(h["region"] == "烟台" for h in hits)
    assert {"text", "doc_id", "title", "date", "source", "score", "chunk_id", "start", "end"} <= set(hits[0])


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_page_answers_with_source_card(app_url, tmp_path, width):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": width, "height": 900})
        box, card = ask_in_page(page, app_url, "烟台有多少个院士工作站？")
        bot_message = page.locator(".message.bot, [data-testid='bot']").last
        assert "33个" in bot_message.inner_text()
        assert "院士工作站33个" in card.locator("mark").first.inner_text()
        page.screenshot(path=str(tmp_path / f"answer-{width}.png"), full_page=True)
        # follow-up in the same conversation
        cards = page.locator("details.source-card").count()
        box.fill("那高层次人才呢？")
        box.press("Enter")
        page.wait_for_function(f"document.querySelectorAll('details.source-card').length > {cards}", timeout=60_000)
        assert "10万人" in page.locator(".message.bot, [data-testid='bot']").last.inner_text()
        browser.close()


def test_api_statute_answer_names_the_article(client):
    ans = client.predict("我的专利能不能申请开放许可？需要满足什么条件？", api_name="/ask")
    assert ans["answered"]
    cited = [c["citation"] for c in ans["citations"]]
    assert "《中华人民共和国专利法》第五十条" in cited
    assert "《中华人民共和国专利法》第五十条" in ans["text"]


@pytest.mark.browser
def test_page_statute_answer_card(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_browser(p)
        _, card = ask_in_page(browser.new_page(viewport={"width": 1280, "height": 900}), app_url, "专利法第五十条说的是什么？")
        assert "《中华人民共和国专利法》第五十条" in card.locator("summary").inner_text()
        assert "开放许可" in card.inner_text() and "法律" in card.inner_text()
        card.page.screenshot(path=str(tmp_path / "statute.png"), full_page=True)
        browser.close()


def test_page_is_up_while_the_first_index_builds(tmp_path):
    """A fresh start serves the page at once, reports the build, then answers."""
    import shutil

    from gradio_client import Client

    from conftest import SHIPPED, AppServer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy2(SHIPPED / "laws" / "专利法(2020-10-17).md", corpus)
    server = AppServer(["--corpus", str(corpus), "--index", str(tmp_path / "idx")], tmp_path / "app.log")
    try:
        server.wait_ready(answering=False)
        early = Client(server.url, verbose=False).predict("发明专利权的期限是多久", api_name="/ask")
        assert not early["answered"] and "索引" in early["text"]
        server.wait_ready()
        ans = Client(server.url, verbose=False).predict("发明专利权的期限是多久", api_name="/ask")
        assert ans["answered"] and "二十年" in ans["text"]
    finally:
        server.stop()
