"""Encoder backends and index builds: passages/s, query latency, build time and peak RSS,
search/ask latency and ``Retriever.load`` time, torch float32 against the ONNX backends.

``python -m bench.build [--copies N] [--laws DIR]``

Every comparison runs in one process (or back-to-back child processes) on the same passages,
with the backends interleaved round by round, so a busy machine slows all of them alike; the
tables quote medians. The N-fold corpus is the law corpus copied N times, each copy with every
paragraph and article prefixed by a different city name (``青岛：``, ``济南：`` ...), and the city in
the title, so no passage repeats and the texts stay real, statute-shaped law.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
from pathlib import Path

from bench.common import ROOT, median_ms, p95_ms, run_child, table, timed, write_section
from bot.chunking import chunk_documents
from bot.config import ENCODERS, Settings
from bot.corpus import corpus_files, load_corpus
from bot.embedding import encode, load_encoder
from bot.evaluation import load_questions

LAWS = ROOT.parent / "shared" / "law-corpus"
ARTICLE = re.compile(r"\s*第[零一二三四五六七八九十百千〇]+条(?:之[一二三四五六七八九十]+)?\s*")
CITIES = ["青岛", "济南", "烟台", "潍坊", "淄博", "威海", "日照", "临沂", "东营", "济宁",
          "泰安", "德州", "聊城", "滨州", "菏泽", "枣庄", "莱芜", "郑州", "洛阳", "开封"]


def multiply(src: Path, dest: Path, copies: int) -> None:
    """``copies`` variants of every file in ``src``: copy k names city k in the title and at the start
    of every article and paragraph, so the files stay statute-shaped and no passage repeats."""
    for path in corpus_files(src):
        text = path.read_text(encoding="utf-8")
        for k in range(copies):
            city = CITIES[k % len(CITIES)] + ("" if k < len(CITIES) else str(k // len(CITIES)))
            lines = []
            for line in text.splitlines():
                article = ARTICLE.match(line)
                if line.startswith("# "):
                    line = f"# {city}{line[2:]}"
                elif article:
                    line = f"{article.group(0)}{city}：{line[article.end():]}"
                elif line.strip() and not line.startswith(("---", "#")):
                    line = f"{city}：{line}"
                lines.append(line)
            (dest / f"{k:02d}-{path.name}").write_text("\n".join(lines), encoding="utf-8")


def throughput(backends: list[str], count: int, rounds: int = 3) -> tuple[list[list[object]], int]:
    """Passages/s and query latency per backend on the same law passages, interleaved."""
    settings = Settings.from_env()
    docs, _ = load_corpus(LAWS)
    chunks, _ = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap, settings.min_chunk_chars)
    texts = [c.embedding_text() for c in chunks][:: max(1, len(chunks) // count)][:count]
    models = {b: load_encoder(settings=settings.replace(encoder=b)) for b in backends}
    for m in models.values():
        encode(m, texts[:4], "passage")
    rates: dict[str, list[float]] = {b: [] for b in backends}
    for _ in range(rounds):
        for b, m in models.items():
            rates[b].append(len(texts) / timed(lambda m=m: encode(m, texts, "passage", settings.embed_batch_size), 1)[0])
    query = "崂山那边靠专利质押给中小企业弄到了多少贷款"
    lat = {b: [] for b in backends}
    for _ in range(30):
        for b, m in models.items():
            lat[b] += timed(lambda m=m: encode(m, [query], "query"), 1)
    base = statistics.median(rates["torch"])
    rows = [[b, f"{statistics.median(rates[b]):.1f}", f"{statistics.median(rates[b]) / base:.2f}x",
             f"{median_ms(lat[b]):.1f}", f"{p95_ms(lat[b]):.1f}"] for b in backends]
    return rows, len(texts)


def build_child(corpus: Path, encoder: str, index_dir: Path) -> dict:
    """A build in a fresh process: passages, seconds, peak RSS (from scratch when ``index_dir`` is empty)."""
    code = (f"from bot import build_index\ns = build_index({str(corpus)!r}, {str(index_dir)!r}, progress=False)\n"
            "_r = {'chunks': s.chunks, 'documents': s.documents, 'seconds': s.seconds}\n")
    return run_child(code, {"IPBOT_ENCODER": encoder})[1]


def latency(index_dir: Path, encoder: str, questions: list[str]) -> tuple[list[float], list[float], float]:
    """search and ask latencies, and Retriever.load seconds (fresh process, imports included)."""
    code = ("import time; t0 = time.perf_counter()\nfrom bot import Retriever, Assistant\n"
            f"r = Retriever.load({str(index_dir)!r}); load = time.perf_counter() - t0\n"
            f"a = Assistant(r); qs = {questions!r}; s, k = [], []\n"
            "for q in qs[:5]: a.ask(q)\n"
            "for _ in range(2):\n"
            "    for q in qs:\n"
            "        t = time.perf_counter(); r.search(q, k=5); s.append(time.perf_counter() - t)\n"
            "        t = time.perf_counter(); a.ask(q); k.append(time.perf_counter() - t)\n"
            "_r = {'load': load, 'search': s, 'ask': k}\n")
    _, out = run_child(code, {"IPBOT_ENCODER": encoder})
    return out["search"], out["ask"], out["load"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.build")
    parser.add_argument("--copies", type=int, default=20, help="size of the multiplied law corpus (default 20)")
    parser.add_argument("--laws", type=Path, default=LAWS)
    parser.add_argument("--passages", type=int, default=96, help="law passages for the encoder comparison")
    args = parser.parse_args(argv)
    backends = list(reversed(ENCODERS))  # torch first: the baseline
    rows, n = throughput(backends, args.passages)

    questions = ([q["q"] for q in load_questions(ROOT / "eval" / "questions.jsonl") if "q" in q][:30]
                 + [q["q"] for q in load_questions(ROOT / "eval" / "statutes.jsonl") if "q" in q][:30])
    settings = Settings.from_env()
    shipped = Path(settings.corpus_dir)
    build_rows, lat_rows, rebuild = [], [], 0.0
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp, "laws-x")
        big.mkdir()
        multiply(args.laws, big, args.copies)
        news = Path(tmp, "news")  # the shipped news and policy pages, without the law shelf
        news.mkdir()
        for page in shipped.glob("*.*"):
            (news / page.name).write_bytes(page.read_bytes())
        corpora = [("news pages (5 files)", news, ("torch", "onnx-int8")),
                   (f"shipped corpus ({len(corpus_files(shipped))} files)", shipped, ("torch", "onnx-int8")),
                   (f"law corpus ({len(corpus_files(args.laws))} files)", args.laws, ("onnx-int8",)),
                   (f"law corpus x{args.copies} ({len(corpus_files(big))} files)", big, ("onnx-int8",))]
        for label, corpus, encoders in corpora:
            for enc in encoders:
                idx = Path(tmp, f"idx-{enc}-{len(build_rows)}")
                out = build_child(Path(corpus), enc, idx)
                build_rows.append([label, enc, out["chunks"], f"{out['seconds']:.1f}", f"{out['chunks'] / out['seconds']:.1f}",
                                   f"{out['peak_rss_mb']:.0f}"])
                if corpus == shipped:
                    if enc == settings.encoder:
                        rebuild = build_child(Path(corpus), enc, idx)["seconds"]
                    search, ask, load = latency(idx, enc, questions)
                    lat_rows.append([enc, f"{median_ms(search):.1f}", f"{p95_ms(search):.1f}", f"{median_ms(ask):.1f}",
                                     f"{p95_ms(ask):.1f}", f"{load:.1f}"])
                else:
                    shutil.rmtree(idx)

    body = "\n\n".join([
        f"The machine was shared with other jobs while this ran ({os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.1f} at the end): absolute figures are noisy, ratios within one table are fair "
        "(backends interleaved round by round, medians).",
        f"Encoding {n} law passages (300-character chunks), 3 rounds; query = one question, 30 calls:",
        table(["encoder", "passages/s", "vs torch", "query p50 ms", "query p95 ms"], rows),
        "From-scratch builds in a fresh process (empty embedding cache; time includes reading, chunking, "
        f"BM25 and FAISS). The x{args.copies} corpus is the law corpus copied {args.copies} times, each copy with "
        "every article and paragraph prefixed by a different city name and the city in the title:",
        table(["corpus", "encoder", "passages", "build s", "passages/s", "peak RSS MB"], build_rows),
        f"A no-change rebuild of the shipped corpus ({settings.encoder}, fresh process): {rebuild:.1f} s.",
        f"Search and answers on the shipped corpus (news pages and laws; {len(questions)} questions, half news, "
        "half statute, x 2 rounds, fresh process); `Retriever.load` is timed from the first import of `bot`:",
        table(["encoder", "search p50 ms", "search p95 ms", "ask p50 ms", "ask p95 ms", "Retriever.load s"], lat_rows),
        f"Command: `python -m bench.build --copies {args.copies} --passages {args.passages}`",
    ])
    write_section("Encoders and builds", body)


if __name__ == "__main__":
    main()
