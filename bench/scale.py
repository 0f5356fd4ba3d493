"""Scale: synthetic corpora of 10k, 100k and 1M chunks through the real index backends.

``python -m bench.scale [--sizes 10000,100000,1000000]``

Embedding a million chunks would take a day on 2 cores, so the synthetic corpus is made from
the real one, like a passage of shuffled sentences from several real chunks: each synthetic
vector is a random convex mix of three real chunk vectors plus Gaussian noise (renormalised),
and its BM25 tokens are 3-4 real sentences' tokens in random combination. Queries are the real eval questions, encoded
and tokenised as in production. Reported: which FAISS structure the size selects, recall@10 of
the dense side against exact search, and the latency of dense + lexical search with rank fusion
(the rerank step after it works on 30 candidates whatever the corpus size).
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np

from bench.common import ROOT, median_ms, p95_ms, table, write_section
from bot.chunking import chunk_documents
from bot.config import Settings
from bot.corpus import load_corpus
from bot.embedding import encode, load_encoder
from bot.evaluation import load_questions
from bot.index import DenseIndex, LexicalIndex
from bot.text import tokenize


def rss_mb() -> float:
    return [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")][0] / 1024


def synthetic(n: int, base_vecs: np.ndarray, sentence_tokens: list[list[str]], rng) -> tuple[np.ndarray, list[list[str]]]:
    src = rng.integers(0, len(base_vecs), (n, 3))
    weights = rng.dirichlet([1.0, 1.0, 1.0], n).astype(np.float32)
    noise = rng.standard_normal((n, base_vecs.shape[1]), dtype=np.float32) * 0.02
    vecs = (base_vecs[src] * weights[:, :, None]).sum(axis=1) + noise
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    picks = rng.integers(0, len(sentence_tokens), (n, 4))
    lengths = rng.integers(3, 5, n)
    tokens = [[t for j in picks[i, : lengths[i]] for t in sentence_tokens[j]] for i in range(n)]
    return vecs.astype(np.float32), tokens


def fuse(d_ids: np.ndarray, l_ids: np.ndarray, k: int = 60) -> list[int]:
    scores: dict[int, float] = {}
    for ids in (d_ids, l_ids):
        for rank, cid in enumerate(ids.tolist()):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=scores.get, reverse=True)[:10]


def main(argv: list[str] | None = None) -> None:
    import faiss

    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="10000,100000,1000000")
    args = p.parse_args(argv)
    settings = Settings.from_env()
    rng = np.random.default_rng(0)
    docs, _ = load_corpus(settings.corpus_dir)
    chunks, _ = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap, settings.min_chunk_chars)
    encoder = load_encoder(settings=settings)
    base = encode(encoder, [c.embedding_text() for c in chunks], "passage")
    sentences = [s for c in chunks for s in re.split(r"[。！？；]", c.embedding_text()) if len(s) > 6]
    sentence_tokens = [tokenize(s) for s in sentences]
    questions = [q["q"] for q in load_questions(ROOT / "eval" / "questions.jsonl") if "q" in q]
    qvecs = encode(encoder, questions, "query")
    qtokens = [tokenize(q) for q in questions]

    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        vecs, tokens = synthetic(n, base, sentence_tokens, rng)
        before = rss_mb()
        t0 = time.perf_counter()
        dense = DenseIndex.build(vecs, settings.flat_index_max, settings.ivf_nlist)
        dense_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        lexical = LexicalIndex.build(tokens)
        lexical_s = time.perf_counter() - t0
        del tokens
        index_mb = rss_mb() - before
        exact = faiss.IndexFlatIP(vecs.shape[1])
        exact.add(vecs)
        _, truth = exact.search(qvecs, 10)
        del exact
        recalls, latencies, dense_t, lexical_t = [], [], [], []
        for _ in range(3):
            for qv, qt, gt in zip(qvecs, qtokens, truth):
                t0 = time.perf_counter()
                d_ids, _ = dense.search(qv, settings.candidates, nprobe=settings.ivf_nprobe)
                t1 = time.perf_counter()
                l_ids, _ = lexical.search(qt, settings.candidates)
                t2 = time.perf_counter()
                fuse(d_ids, l_ids, settings.rrf_k)
                latencies.append(time.perf_counter() - t0)
                dense_t.append(t1 - t0)
                lexical_t.append(t2 - t1)
                recalls.append(len(set(d_ids[:10].tolist()) & set(gt.tolist())) / 10)
        rows.append([f"{n:,}", dense.kind, f"{np.mean(recalls):.3f}", f"{median_ms(latencies):.1f}", f"{p95_ms(latencies):.1f}",
                     f"{median_ms(dense_t):.1f} / {median_ms(lexical_t):.1f}",
                     f"{dense_s:.0f}", f"{lexical_s:.0f}", f"{index_mb:.0f}", f"{index_mb / n * 1e6 / 1024:.1f}"])
        print(rows[-1], flush=True)
        del dense, lexical, vecs
    body = "\n\n".join([
        "Synthetic corpora made from the real chunks (see the docstring of `bench/scale.py`); "
        f"{len(questions)} real questions x 3 rounds, single-query calls, 2 cores. FAISS switches from exact "
        f"`IndexFlatIP` to `IndexIVFFlat` (sqrt(N) cells, nprobe={settings.ivf_nprobe}) above "
        f"{settings.flat_index_max:,} chunks (`IPBOT_FLAT_INDEX_MAX`, `IPBOT_IVF_NPROBE`).",
        table(["chunks", "FAISS index", "dense recall@10 vs exact", "search p50 ms", "search p95 ms", "p50 dense / BM25 ms",
               "dense build s", "BM25 build s", "index memory MB", "GB per million chunks"], rows),
        "Search = dense top-50 + BM25 top-50 + reciprocal-rank fusion. Command: `python -m bench.scale`",
    ])
    write_section("Scale", body)


if __name__ == "__main__":
    main()
