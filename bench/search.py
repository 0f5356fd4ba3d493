"""Search and ask latency on the shipped corpus, and index build time.

``python -m bench.search``
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import ROOT, median_ms, p95_ms, table, write_section
from bot import Assistant, Retriever, build_index
from bot.config import Settings
from bot.evaluation import load_questions


def main() -> None:
    settings = Settings.from_env()
    questions = [q["q"] for q in load_questions(ROOT / "eval" / "questions.jsonl") if "q" in q]
    dev = ROOT.parent / "shared" / "eval" / "dev.jsonl"
    if dev.is_file():
        questions += [q["q"] for q in load_questions(dev)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        stats = build_index(settings.corpus_dir, Path(tmp), settings=settings, progress=False)
        build_s = time.perf_counter() - t0
        retriever = Retriever.load(tmp, settings=settings)
        assistant = Assistant(retriever, settings=settings)
        size_mb = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()) / 1e6
        for q in questions[:5]:
            assistant.ask(q)  # warm up
        search, ask = [], []
        for _ in range(3):
            for q in questions:
                t0 = time.perf_counter()
                retriever.search(q, k=5)
                search.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                assistant.ask(q)
                ask.append(time.perf_counter() - t0)
    peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
    rows = [["search (hybrid, k=5)", len(search), f"{median_ms(search):.1f}", f"{p95_ms(search):.1f}"],
            ["ask (search + extractive answer)", len(ask), f"{median_ms(ask):.1f}", f"{p95_ms(ask):.1f}"]]
    body = "\n\n".join([
        f"{len(questions)} questions (eval/questions.jsonl and the public dev set), 3 rounds, one process.",
        table(["operation", "calls", "p50 ms", "p95 ms"], rows),
        table(["index build", "documents", "chunks", "seconds (incl. model load)", "chunks/s", "size on disk MB"],
              [["shipped corpus", stats.documents, stats.chunks, f"{build_s:.1f}", f"{stats.chunks / build_s:.1f}", f"{size_mb:.2f}"]]),
        f"Peak RSS of the process (model, index, build and queries): {peak:.0f} MB.",
        "Command: `python -m bench.search`",
    ])
    write_section("Search and answers", body)


if __name__ == "__main__":
    main()
