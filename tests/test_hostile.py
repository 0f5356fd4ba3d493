"""Hostile or broken input never takes the service down.

A corpus full of broken and hostile files still builds, and every good document in it is
answerable; cleaning runs in linear time; parsers are held to time and memory limits; the LLM
client fails closed; the command line and the app start-up fail with one line, not a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench.hostile_corpus import (
    ADVERSARIAL, GOOD, SECRET, adversarial, alias_bomb, bomb_docx, slow_pdf, write_hostile_corpus,
)
from bot import Assistant, Retriever, Settings, build_index
from bot.corpus import clean_text, load_corpus, parse_document
from bot.limits import bounded_history
from bot.llm import ChatClient

from conftest import ROOT, free_port, run_cli, send_json


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "corpus"
    return root, write_hostile_corpus(root)


@pytest.fixture(scope="module")
def hostile_build(hostile, tmp_path_factory, encoder):
    corpus, _ = hostile
    index = tmp_path_factory.mktemp("hostile-index")
    stats = build_index(corpus, index, progress=False)
    return stats, index


# ---------------------------------------------------------------- the hostile corpus

def test_hostile_corpus_builds_and_skips_each_bad_file_with_a_reason(hostile, hostile_build):
    _, expected = hostile
    stats, _ = hostile_build
    skipped = {Path(f).name: why for f, why in stats.skipped}
    assert set(skipped) == set(expected), skipped
    assert "unpacks to 101 MB" in skipped["bomb.docx"]
    assert "Word file cannot be read" in skipped["truncated.docx"] and "Word file cannot be read" in skipped["bitflip.docx"]
    assert "PDF cannot be read" in skipped["deep.pdf"] and "PDF cannot be read" in skipped["cyclic.pdf"]
    assert "outside the corpus" in skipped["outside-link.txt"] and "loop" in skipped["loop-a.txt"]
    summary = stats.summary()
    assert all(name in summary for name in expected)  # the build summary names every skipped file


def test_every_good_document_in_the_hostile_corpus_is_answerable(hostile_build):
    _, index = hostile_build
    bot = Assistant(Retriever.load(index))
    for _, question, figure in GOOD.values():
        ans = bot.ask(question)
        assert ans.answered and figure in ans.text, (question, ans.text)
    ans = bot.ask("青岛市专利质押融资贴息比例是多少")  # its sidecar links outside: ignored, the document kept
    assert ans.answered and "50%" in ans.text


def test_nothing_from_outside_the_corpus_reaches_the_index(hostile_build):
    _, index = hostile_build
    stored = "".join(p.read_text(encoding="utf-8", errors="replace") for p in (index / "current").glob("*.json"))
    assert SECRET not in stored and "外部" not in stored


def test_metadata_is_bounded_single_line_and_known_keys_only(hostile_build):
    _, index = hostile_build
    docs = Retriever.load(index).documents
    titled = docs["yantai-title.md"]
    assert "\n" not in titled.title + titled.date + titled.source
    assert titled.date == "2024-01-02"
    assert all(len(d.title) <= 200 and len(d.source) <= 500 for d in docs.values())
    assert all(set(d.extra) <= {"page_starts"} for d in docs.values())


def test_alias_bomb_front_matter_is_refused_quickly():
    t0 = time.perf_counter()
    doc = parse_document(alias_bomb(levels=9), "bomb")  # 10 x 9**9 strings if expanded
    assert time.perf_counter() - t0 < 5
    assert len(doc.title) <= 200 and "潍坊市专利转化专项资金" in doc.text


def test_front_matter_keeps_only_known_keys():
    doc = parse_document("---\ntitle: 威海\napi_key: s3cret\nregion: [a, b]\n---\n威海市对发明专利给予资助。", "x")
    assert doc.title == "威海" and doc.extra == {} and "s3cret" not in json.dumps(doc.to_dict(), ensure_ascii=False)


# ---------------------------------------------------------------- linear-time cleaning

def _best_time(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _random_mix(seed: int, size: int) -> str:
    rng = random.Random(seed)
    pieces = [*ADVERSARIAL.values(), "专利", "。", "\n", "\n\n", "]", ")", "](", ">", "</script>", "-->", "**", "# ", "http://",
              "&amp;", "---\n"]
    out, n = [], 0
    while n < size:
        piece = rng.choice(pieces)
        out.append(piece)
        n += len(piece)
    return "".join(out)


@pytest.mark.parametrize("unit", [*ADVERSARIAL.values(), "mix-1", "mix-2", "mix-3"])
def test_cleaning_time_grows_linearly(unit):
    """1x vs 8x the input: linear is 8x the time (up to ~14x measured: caches), quadratic 64x."""
    size = 50_000
    if unit.startswith("mix-"):
        small, large = _random_mix(int(unit[-1]), size), _random_mix(int(unit[-1]), 8 * size)
    else:
        small, large = adversarial(unit, size), adversarial(unit, 8 * size)
    t_small = max(_best_time(lambda: clean_text(small)), 2e-3)
    t_large = _best_time(lambda: clean_text(large))
    assert t_large / t_small < 24, f"{unit!r}: {t_small * 1e3:.1f} ms -> {t_large * 1e3:.1f} ms"


# ---------------------------------------------------------------- parser limits

def test_a_slow_file_is_stopped_at_the_time_limit_and_the_next_one_still_parses(tmp_path):
    (tmp_path / "a-slow.pdf").write_bytes(slow_pdf())
    (tmp_path / "b-bomb.docx").write_bytes(bomb_docx(5))  # under the limits: parsed by the restarted child
    (tmp_path / "c.txt").write_text("烟台有院士工作站33个。", encoding="utf-8")
    docs, skipped = load_corpus(tmp_path, Settings(parse_timeout=0.5))
    assert [Path(f).name for f, _ in skipped] == ["a-slow.pdf"] and "longer than 0.5 s" in skipped[0][1]
    assert {d.doc_id for d in docs} == {"b-bomb.docx", "c.txt"}


def test_a_memory_bomb_fails_in_the_child_not_in_the_server(tmp_path):
    (tmp_path / "bomb.docx").write_bytes(bomb_docx(100))
    (tmp_path / "ok.txt").write_text("烟台有院士工作站33个。", encoding="utf-8")
    docs, skipped = load_corpus(tmp_path, Settings(docx_max_unpacked_mb=1000, parse_memory_mb=300))
    assert [d.doc_id for d in docs] == ["ok.txt"]
    assert "memory" in skipped[0][1]


def test_a_file_without_read_permission_is_skipped(tmp_path):
    """Root reads everything, so as root the check runs as user nobody (setpriv)."""
    corpus = Path(tempfile.mkdtemp(prefix="ipbot-perm-"))
    try:
        corpus.chmod(0o755)
        (corpus / "ok.txt").write_text("烟台有院士工作站33个。", encoding="utf-8")
        (corpus / "secret.txt").write_text("不可读。", encoding="utf-8")
        (corpus / "secret.txt").chmod(0o000)
        code = ("import json, sys; from bot.corpus import load_corpus; docs, skipped = load_corpus(sys.argv[1]); "
                "print(json.dumps([[d.doc_id for d in docs], skipped]))")
        command = [sys.executable, "-c", code, str(corpus)]
        if os.geteuid() == 0:
            if not shutil.which("setpriv"):
                pytest.skip("running as root without setpriv: cannot make a file unreadable")
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "HOME": str(corpus)})
        assert out.returncode == 0, out.stderr
        docs, skipped = json.loads(out.stdout.strip().splitlines()[-1])
        assert docs == ["ok.txt"] and Path(skipped[0][0]).name == "secret.txt" and "ermission" in skipped[0][1]
    finally:
        shutil.rmtree(corpus, ignore_errors=True)


# ---------------------------------------------------------------- the command line and start-up

def test_cli_builds_past_a_symlink_loop_and_names_it(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("烟台有院士工作站33个。", encoding="utf-8")
    (corpus / "a.txt").symlink_to(corpus / "b.txt")
    (corpus / "b.txt").symlink_to(corpus / "a.txt")
    out = run_cli("build", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "a.txt (broken link or link loop)" in out.stdout


def test_cli_failures_are_one_line_with_what_to_do(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("烟台有院士工作站33个。", encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = run_cli("build", "--corpus", str(corpus), "--index", str(blocker / "index"))  # not a directory
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error:") and "folders" in out.stderr

    index = tmp_path / "index"
    index.mkdir()
    db = sqlite3.connect(index / "embedding-cache.sqlite", isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")  # another build holds the cache
    try:
        out = run_cli("build", "--corpus", str(corpus), "--index", str(index))
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "database is locked" in out.stderr and "retry" in out.stderr


@pytest.mark.parametrize("url, says", [
    ("127.0.0.1:11434/v1", "http://"),
    ("http://user:pw@127.0.0.1:11434/v1", "IPBOT_LLM_API_KEY"),
    ("http://127.0.0.1:99999/v1", "not a valid URL"),
])
def test_bad_llm_url_is_refused_at_start_up_in_one_line(index_dir, url, says):
    out = subprocess.run([sys.executable, "app.py", "--port", str(free_port()), "--index", str(index_dir)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "IPBOT_LLM_BASE_URL": url})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert says in out.stderr and "pw" not in out.stderr


# ---------------------------------------------------------------- the LLM client fails closed

class _Endpoint(BaseHTTPRequestHandler):
    """Misbehaving chat endpoints, chosen by path; every request is recorded."""

    seen: list[tuple[str, dict]] = []
    other_port = 0

    def do_POST(self):  # noqa: N802 - http.server's name
        _Endpoint.seen.append((self.path, dict(self.headers)))
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{_Endpoint.other_port}/steal/chat/completions")
            self.end_headers()
        elif self.path.startswith("/status"):
            self.wfile.write(b"GARBAGE\r\n\r\n")
        elif self.path.startswith("/huge"):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"choices": [{"message": {"content": "' + b"x" * 2_000_000 + b'"}}]}')
        else:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"not json")

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoints():
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    _Endpoint.seen = []
    _Endpoint.other_port = servers[1].server_address[1]
    yield f"http://127.0.0.1:{servers[0].server_address[1]}"
    for server in servers:
        server.shutdown()


@pytest.mark.parametrize("path", ["/redirect/v1", "/status/v1", "/huge/v1", "/badjson/v1", "no-scheme", "http://[::1"])
def test_llm_failures_give_the_extractive_answer_without_leaking_the_key(retriever, endpoints, caplog, path):
    url = endpoints + path if path.startswith("/") else path
    bot = Assistant(retriever, llm=ChatClient(url, "m", "sk-very-secret", timeout=5))
    with caplog.at_level(logging.INFO):
        ans = bot.ask("烟台有多少个院士工作站")
    assert ans.answered and "33个" in ans.text and "摘录式" in ans.notice
    assert "sk-very-secret" not in caplog.text + ans.notice
    assert not any(p.startswith("/steal") for p, _ in _Endpoint.seen)  # Authorization never crossed hosts


# ---------------------------------------------------------------- bounded requests (Python API)

def test_history_is_bounded_per_turn_in_count_and_shape():
    s = Settings(max_history_turns=3, max_question_chars=10)
    history = [{"role": "user", "content": "烟台"}, {"role": "assistant", "content": "x" * 10**6},
               {"role": "user", "content": "长" * 11}, {"role": "user", "content": [{"type": "text", "text": "济南"}]},
               ("青岛", "答"), {"role": "user", "content": [[[["深"]]]]}, "junk", {"role": "user", "content": "潍坊"}]
    assert bounded_history(history, s) == [{"role": "user", "content": [{"type": "text", "text": "济南"}]}, ("青岛", "答"),
                                          {"role": "user", "content": "潍坊"}]
    assert bounded_history("not a list", s) == [] and bounded_history(None, s) == []


def test_a_huge_earlier_turn_does_not_reach_the_query(assistant):
    history = [{"role": "user", "content": "烟台成果贷前三季度帮企业贷了多少？"},
               {"role": "user", "content": "专利质押融资" * 16_667}]  # 100k characters
    t0 = time.perf_counter()
    ans = assistant.ask("那科信贷呢？", history=history)
    assert time.perf_counter() - t0 < 10
    assert len(ans.query) < 200 and "6.1亿元" in ans.text  # read against the last turn that was a question


# ---------------------------------------------------------------- bad requests to the running server

BAD_REQUESTS = [  # (name, endpoint, arguments)
    ("huge history", "/ask", ("青岛呢？", [{"role": "user", "content": "专利质押融资" * 20_000}] * 5
                              + [{"role": "assistant", "content": "答" * 1000}] * 300)),
    ("odd history", "/ask", ("那科信贷呢？", [{"role": "user", "content": [[[["深"]]]]}, {"x": 1}, 7, None])),
    ("huge question", "/ask", ("专利" * 500_000,)),
    ("huge search", "/search", ("专利" * 500_000, 5)),
    ("huge k", "/search", ("科信贷", 10**12)),
    ("negative k", "/search", ("科信贷", -7)),
    ("huge filter", "/search", ("科信贷", 5, "烟" * 100_000)),
    ("bad date", "/ask", ("烟台有多少个院士工作站", [], "", "", "", "not-a-date", "")),
    ("path as doc id", "/search", ("科信贷", 5, "", "../../../../etc/passwd")),
    ("markup question", "/ask", ("![x](http://127.0.0.1:9/q.png)[1](https://phish.example)" * 10,)),
]


# download_files=False: hits carry a "path" field (the article's chapter), which gradio_client
# would otherwise take for a file to download
def _attack(url: str, errors: list[str], rounds: int) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(url, verbose=False, download_files=False)
    for _ in range(rounds):
        for name, endpoint, args in BAD_REQUESTS:
            try:
                result = client.predict(*args, api_name=endpoint)
            except AppError as exc:  # our message, in the user's terms
                if "参数有误" not in str(exc):
                    errors.append(f"{name}: {str(exc)[:200]}")
                continue
            except Exception as exc:  # noqa: BLE001 - anything else is a failure of the server
                errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            if endpoint == "/ask" and not isinstance(result, dict):
                errors.append(f"{name}: {str(result)[:200]}")
            if endpoint == "/search" and len(result) > 50:
                errors.append(f"{name}: {len(result)} hits")


def test_bad_request_battery_leaves_the_server_answering_others(app_server):
    """Eight clients send bad requests while another asks real questions: every bad request
    gets an answer or a message, the other client keeps getting right answers, no traceback."""
    import psutil
    from gradio_client import Client

    proc = psutil.Process(app_server.proc.pid)
    victim = Client(app_server.url, verbose=False, download_files=False)
    victim.predict("烟台有多少个院士工作站", api_name="/ask")  # warm
    rss_before = proc.memory_info().rss
    errors: list[str] = []
    attackers = [threading.Thread(target=_attack, args=(app_server.url, errors, 2)) for _ in range(8)]
    for t in attackers:
        t.start()
    latencies, wrong = [], []
    while any(t.is_alive() for t in attackers):
        t0 = time.perf_counter()
        ans = victim.predict("烟台有多少个院士工作站", api_name="/ask")
        latencies.append(time.perf_counter() - t0)
        if "33个" not in ans["text"]:
            wrong.append(ans["text"][:80])
    for t in attackers:
        t.join()
    rss_after = proc.memory_info().rss
    latencies.sort()
    print(f"\nduring the attack: {len(latencies)} answers to another client, p50 {latencies[len(latencies) // 2]:.2f} s, "
          f"max {latencies[-1]:.2f} s; server RSS {rss_before / 1e6:.0f} -> {rss_after / 1e6:.0f} MB")
    assert not errors, errors[:5]
    assert latencies and not wrong, wrong[:3]
    assert app_server.proc.poll() is None
    assert "Traceback" not in app_server.log_path.read_text()
    assert rss_after - rss_before < 500e6


def test_search_bounds_are_messages(app_url):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False, download_files=False)
    with pytest.raises(AppError, match="查询太长"):
        client.predict("专利" * 1000, 5, api_name="/search")
    with pytest.raises(AppError, match="日期应写成"):
        client.predict("科信贷", 5, "", "", "", "2022年", api_name="/search")
    assert len(client.predict("知识产权", 10**6, api_name="/search")) <= 50


# ---------------------------------------------------------------- the page with a hostile title and LLM output

class _Attacker(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint whose answers carry Markdown attacks, and the attacker's
    image host: every GET is a request the page must never make."""

    fetched: list[str] = []
    port = 0

    def do_GET(self):  # noqa: N802
        _Attacker.fetched.append(self.path)
        self.send_response(204)
        self.end_headers()

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        pix = f"http://127.0.0.1:{_Attacker.port}"
        reply = (f"烟台奖励30万元[1]。![x]({pix}/llm.png) [1]({pix}/llm-link) <img src=\"{pix}/llm-img.png\"> "
                 f"**加粗**[1] $$x$$ www.phish.example\n\n[1]: {pix}/llm-ref")
        send_json(self, {"choices": [{"message": {"content": reply}}]})

    def log_message(self, *args):
        pass


@pytest.mark.browser
def test_hostile_title_and_llm_output_render_inert_in_the_browser(tmp_path_factory, encoder, tmp_path):
    from playwright.sync_api import sync_playwright

    from conftest import AppServer, ask_in_page, launch_browser

    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    _Attacker.port, _Attacker.fetched = attacker.server_address[1], []
    corpus = tmp_path_factory.mktemp("title") / "corpus"
    write_hostile_corpus(corpus, pixel_port=_Attacker.port)
    index = tmp_path / "index"
    build_index(corpus, index, progress=False)
    server = AppServer(["--corpus", str(corpus), "--index", str(index)], tmp_path / "app.log",
                       env={"IPBOT_LLM_BASE_URL": f"http://127.0.0.1:{_Attacker.port}/v1"}).wait_ready()
    try:
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page()
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            ask_in_page(page, server.url, "烟台市对新认定的国家知识产权示范企业奖励多少")
            page.evaluate("document.querySelectorAll('details.source-card').forEach(d => d.open = true)")
            page.wait_for_timeout(1500)  # let any image the page wrongly contains load
            page.screenshot(path=str(tmp_path / "hostile-title.png"), full_page=True)
            chat = page.locator("#ipbot-chat")
            text = chat.inner_text()
            assert "烟台奖励30万元[1]" in text and "烟台专利资助 ![1](" in text  # shown, as text
            assert chat.locator("img, iframe, object, embed").count() == 0
            # the only links are source links in the cards, showing their own address: none can pass for [1]
            links = chat.locator("a")
            found = [(links.nth(i).get_attribute("href"), links.nth(i).inner_text()) for i in range(links.count())]
            assert chat.locator(".source-meta a").count() == len(found), found
            assert all(text == href and "phish" not in href and f":{_Attacker.port}" not in href for href, text in found)
            assert chat.locator(".katex").count() == 0
            browser.close()
        assert _Attacker.fetched == []
        assert not [u for u in requested if f":{_Attacker.port}" in u or "phish" in u]
    finally:
        server.stop()
        attacker.shutdown()


def test_rendered_message_has_no_markup_from_documents_or_the_llm():
    from bot.answer import Answer, Quote
    from bot.retrieval import Hit
    from bot.webapp import message_html

    evil = "![p](https://attacker.example/p.png) [1](https://phish.example) <img src=x> $$x$$ www.a.example\n\n# h"
    hit = Hit(text=f"正文{evil}\r\n\r\n结尾", doc_id="d", title=f"烟台{evil}", date=f"2024\n\n{evil}",
              source=f"https://ok.example/a\n\n{evil}", score=1.0, chunk_id=0, start=0, end=10)
    answer = Answer(f"> 正文[1]（{hit.title}）\n\n**5000元** [1]\n\n[1]: https://phish.example", [hit], True,
                    [Quote(1, "正文", 0, 2)], notice=evil)
    html = message_html(answer)
    for forbidden in ("](", "![", "<img", "$$", "www.", "https:", "[1]:"):
        assert forbidden not in html.split("<details", 1)[0], forbidden  # answer text and notice
    cards = html[html.index("<p><b>"):]
    assert "\n\n" not in cards and "\r" not in cards  # a blank line would end the HTML block
    assert "<a " not in cards  # the source is not a clean http(s) URL: shown as text
    assert "**5000元**" in html and "> 正文" in html  # our own bold and quote survive
