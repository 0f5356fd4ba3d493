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

from conftest import ROOT, free_port, run_cli


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
    titled = docs["yantai-title"]
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
    assert {d.doc_id for d in docs} == {"b-bomb", "c"}


def test_a_memory_bomb_fails_in_the_child_not_in_the_server(tmp_path):
    (tmp_path / "bomb.docx").write_bytes(bomb_docx(100))
    (tmp_path / "ok.txt").write_text("烟台有院士工作站33个。", encoding="utf-8")
    docs, skipped = load_corpus(tmp_path, Settings(docx_max_unpacked_mb=1000, parse_memory_mb=400))
    assert [d.doc_id for d in docs] == ["ok"]
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
        assert docs == ["ok"] and Path(skipped[0][0]).name == "secret.txt" and "ermission" in skipped[0][1]
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
