"""Evaluators: retrieval hit@k / MRR and answer quality on a question file.

Question files are JSON lines: ``{"id", "q", "evidence": [..], "doc"}`` for answerable
questions, ``{"id", "q", "unanswerable": true}`` for questions the bot must refuse, and
``{"id", "turns": [q1, q2], "evidence": [..]}`` for follow-ups (the last turn is scored).
A passage or answer matches when it contains one evidence string after normalisation
(NFKC, no whitespace, traditional -> simplified).
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .statute import short_title
from .text import match_form

log = logging.getLogger(__name__)


def load_questions(path: str | Path) -> list[dict]:
    items = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: not valid JSON ({exc})") from exc
    return items


def contains_evidence(text: str, evidence: list[str], every: bool = False) -> bool:
    """Whether ``text`` holds one evidence string (``every``: all of them)."""
    norm = match_form(text)
    found = (match_form(e) in norm for e in evidence)
    return all(found) if every else any(found)


def cites_article(hit, articles: list[str]) -> bool:
    """Whether a hit is one of the gold articles, named like 专利法第五十条."""
    return bool(hit.article) and f"{short_title(hit.title)}{hit.article}" in articles


def extra_articles(answer, articles: list[str]) -> set[str]:
    """The articles an answer quotes that are not among the gold ``articles``."""
    quoted = (answer.citations[q.citation - 1] for q in answer.quotes)
    return {f"{short_title(h.title)}{h.article}" for h in quoted if h.article and not cites_article(h, articles)}


def is_relevant(hit, item: dict) -> bool:
    return contains_evidence(hit.text, item.get("evidence") or []) or cites_article(hit, item.get("articles") or [])


@dataclass
class EvalReport:
    questions: int = 0
    answerable: int = 0
    hits: dict[int, int] = field(default_factory=lambda: {1: 0, 3: 0, 5: 0})
    reciprocal_ranks: list[float] = field(default_factory=list)
    answer_has_evidence: int = 0
    citations_have_evidence: int = 0
    answered_when_answerable: int = 0
    # quotes from articles that are not gold, over answered questions with gold articles: a
    # second article quoted "just in case" costs the reader, and hit rates never show it
    extra_quotes: int = 0
    answered_with_articles: int = 0
    unanswerable: int = 0
    refused_correctly: int = 0
    followups: int = 0
    followups_correct: int = 0
    search_ms: list[float] = field(default_factory=list)
    ask_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str]]:
        a = max(self.answerable, 1)
        out = [("questions", str(self.questions))]
        for k, n in self.hits.items():
            out.append((f"hit@{k}", f"{n / a:.3f}"))
        out.append(("MRR", f"{statistics.fmean(self.reciprocal_ranks) if self.reciprocal_ranks else 0:.3f}"))
        if self.ask_ms:
            out += [
                ("answer contains evidence", f"{self.answer_has_evidence / a:.3f}"),
                ("first 3 citations contain evidence", f"{self.citations_have_evidence / a:.3f}"),
                ("answered (answerable)", f"{self.answered_when_answerable / a:.3f}"),
                ("other articles quoted per answer", f"{self.extra_quotes / max(self.answered_with_articles, 1):.2f}"),
                ("refused (unanswerable)", f"{self.refused_correctly}/{self.unanswerable}"),
            ]
            if self.followups:
                out.append(("follow-ups correct", f"{self.followups_correct}/{self.followups}"))
        if self.search_ms:
            out.append(("search p50 ms", f"{statistics.median(self.search_ms):.1f}"))
        if self.ask_ms:
            out.append(("ask p50 ms", f"{statistics.median(self.ask_ms):.1f}"))
        return out

    def table(self) -> str:
        rows = self.rows()
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        if self.failures:
            lines.append("misses:")
            lines += [f"  {f}" for f in self.failures]
        return "\n".join(lines)


def evaluate(retriever, questions: list[dict], assistant=None, k: int = 5) -> EvalReport:
    """Score retrieval on every question; with an ``assistant`` also score answers and refusals."""
    rep = EvalReport()
    for item in questions:
        rep.questions += 1
        turns = item.get("turns") or [item["q"]]
        question = turns[-1]
        evidence = item.get("evidence") or []
        if evidence and len(turns) == 1:
            rep.answerable += 1
            t0 = time.perf_counter()
            hits = retriever.search(question, k=k)
            rep.search_ms.append((time.perf_counter() - t0) * 1000)
            rank = next((i + 1 for i, h in enumerate(hits) if is_relevant(h, item)), None)
            for cutoff in rep.hits:
                rep.hits[cutoff] += bool(rank and rank <= cutoff)
            rep.reciprocal_ranks.append(1 / rank if rank else 0.0)
            if rank != 1:
                rep.failures.append(f"{item.get('id')}: retrieval rank {rank} for {question}")
        if assistant is None:
            continue
        t0 = time.perf_counter()
        history: list[dict] = []
        for turn in turns[:-1]:
            prev = assistant.ask(turn, history=history)
            history += [{"role": "user", "content": turn}, {"role": "assistant", "content": prev.text}]
        answer = assistant.ask(question, history=history)
        rep.ask_ms.append((time.perf_counter() - t0) * 1000)
        if item.get("unanswerable"):
            rep.unanswerable += 1
            rep.refused_correctly += not answer.answered
            if answer.answered:
                rep.failures.append(f"{item.get('id')}: answered an unanswerable question: {question}")
            continue
        # a question that needs two articles is answered only when both are quoted
        # bold marks the figure and "> " the quote's lines; neither is part of the quote
        shown = re.sub(r"(?m)^> ?", "", answer.text.replace("**", ""))
        ok_text = answer.answered and contains_evidence(shown, evidence, every=item.get("kind") == "two-article")
        ok_cite = any(is_relevant(h, item) for h in answer.citations[:3])
        if len(turns) > 1:
            rep.followups += 1
            rep.followups_correct += ok_text
            if not ok_text:
                rep.failures.append(f"{item.get('id')}: follow-up answer lacks evidence: {' / '.join(turns)}")
            continue
        rep.answer_has_evidence += ok_text
        rep.citations_have_evidence += ok_cite
        rep.answered_when_answerable += answer.answered
        if answer.answered and item.get("articles"):
            rep.answered_with_articles += 1
            rep.extra_quotes += len(extra_articles(answer, item["articles"]))
        if not ok_text:
            rep.failures.append(f"{item.get('id')}: answer lacks evidence ({'answered' if answer.answered else 'refused'}): {question}")
    return rep
