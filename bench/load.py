"""Throughput of the running app under 20 concurrent gradio_client users (10 questions each).

``python -m bench.load``: starts ``app.py`` on a free loopback port, drives it, stops it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.common import ROOT, median_ms, p95_ms, table, write_section
from bot.evaluation import load_questions

USERS, PER_USER = 20, 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_until_answer(index: Path, log: Path, question: str) -> tuple[subprocess.Popen, str, float, float]:
    """Start ``app.py`` on ``index`` and ask until the first answer: the process, its URL, the
    seconds until the page responds and until it answers (not "正在建立索引…")."""
    from gradio_client import Client

    port = _free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--index", str(index)],
                            cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    up = None
    while True:
        try:
            result = Client(url, verbose=False).predict(question, api_name="/ask")
            up = up or time.perf_counter() - t0
            if "正在建立索引" not in str(result) and "正在加载索引" not in str(result):
                return proc, url, up, time.perf_counter() - t0
        except Exception as exc:
            if proc.poll() is not None:
                raise SystemExit(log.read_text()) from exc
        time.sleep(0.5)


def main() -> None:
    from gradio_client import Client

    questions = [q["q"] for q in load_questions(ROOT / "eval" / "questions.jsonl") if "q" in q][:PER_USER]
    with tempfile.TemporaryDirectory() as tmp:
        log, index = Path(tmp) / "app.log", Path(tmp) / "index"
        proc, url, cold_up, cold = start_until_answer(index, log, questions[0])
        try:
            rss0 = psutil.Process(proc.pid).memory_info().rss
            latencies: list[float] = []

            def user() -> None:
                client = Client(url, verbose=False)
                for q in questions:
                    s = time.perf_counter()
                    client.predict(q, api_name="/ask")
                    latencies.append(time.perf_counter() - s)

            threads = [threading.Thread(target=user) for _ in range(USERS)]
            t1 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t1
            rss1 = psutil.Process(proc.pid).memory_info().rss
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        proc, _, warm_up, warm = start_until_answer(index, log, questions[0])  # the index is there and up to date
        proc.terminate()
        proc.wait(timeout=30)
    rows = [[f"{USERS} users x {PER_USER} questions", len(latencies), f"{len(latencies) / wall:.1f}",
             f"{median_ms(latencies):.0f}", f"{p95_ms(latencies):.0f}", f"{rss0 / 1e6:.0f} -> {rss1 / 1e6:.0f}"]]
    body = "\n\n".join([
        table(["load (/ask over HTTP, loopback)", "answers", "answers/s", "p50 ms", "p95 ms", "server RSS MB"], rows),
        "Start of `app.py` on the shipped corpus (news pages and laws), model cached, until the page responds / "
        f"until the first answer over HTTP: with no index {cold_up:.1f} s / {cold:.1f} s (the page shows the "
        f"build's progress meanwhile); with the index built {warm_up:.1f} s / {warm:.1f} s.",
        "Command: `python -m bench.load`",
    ])
    write_section("Web app under load", body)


if __name__ == "__main__":
    main()
