"""Further articles an answer quotes with its best one: the article of each ask of a
two-part question, the rule a quoted penalty sanctions, the regulation article that implements
the quoted law (or the law article a regulation cites), or a close rival from the same law.

A statute question is often answered by two articles together; these steps decide which,
and only add a quote that would answer well enough on its own.
"""

from __future__ import annotations

from dataclasses import replace

from .config import Settings
from .query import Question, analyse, sub_questions
from .refusal import evidence_strength
from .retrieval import Hit, Retriever
from .selection import Candidate, candidates, choose
from .statute import cited_paragraphs, paragraph_at, related_laws, short_title, version_key


ASK_SHARE = 0.85  # a later ask's own article, besides those quoted, must answer it nearly as well as its best


def add_sub_answers(retriever: Retriever, s: Settings, q: Question, hits: list[Hit], chosen: list[Candidate],
                    filters: dict | None) -> None:
    """A question that asks two things ("忘了交年费会怎么样？还有补救的机会吗？") is often
    answered by two articles: each ask is looked up alone, and its article is quoted too when
    it is another one and answers that ask well enough to be quoted on its own."""
    for n, part in enumerate(sub_questions(q.text)):
        if len(chosen) >= s.answer_sentences:
            return
        pq = analyse(part)
        found = retriever.search(pq, k=5, filters=filters)
        # a later ask's best article besides those already quoted (the first ask's often ranks
        # first again); the first ask is the question's own, already answered by the best quote
        in_answer = {hits[o.hit_index].chunk_id for o in chosen}
        # an ask for an amount (最多罚多少) is answered only by a figure in its unit
        pool = [c for i, h in enumerate(found) for c in candidates(pq, i, h)
                if not (pq.kind == "quantity" and pq.unit and pq.unit not in c.figure)]
        picked = choose(pq, found, [c for c in pool if not (n and found[c.hit_index].chunk_id in in_answer)], 1)
        if not picked:
            continue
        c, hit = picked[0], found[picked[0].hit_index]
        if (not hit.article or hit.superseded or hit.chunk_id in in_answer or c.coverage < s.statute_min_coverage
                or c.score < ASK_SHARE * max(o.score for o in pool)
                or evidence_strength(retriever, pq, [c], s.unknown_term_penalty, s.situation_share) < s.refuse_below_statute):
            continue
        _quote_too(hits, chosen, hit, c)


def add_companion(retriever: Retriever, s: Settings, q: Question, hits: list[Hit], chosen: list[Candidate]) -> None:
    """A law's article and the regulation article that implements it answer together
    (专利法第四十二条 + 实施细则第七十七条 on 期限补偿): quote the best article that cites the
    quoted one or is cited by it, or else the best retrieved article of a related law, when
    it also answers the question; failing both, another retrieved article of the same law
    that answers nearly as well (two close readings are both shown, for the user to judge).
    Asked what happens to whoever breaks it, the article that sanctions it comes first."""
    if not chosen or not hits[chosen[0].hit_index].article or len(chosen) >= s.answer_sentences:
        return
    best = chosen[0]
    lead = hits[best.hit_index]
    # an article that cites another 款 of the quoted article answers another question
    # (细则第八十一条 implements 第四十二条第三款 on new drugs, not 第二款 on slow examination)
    para = paragraph_at(lead.text, max(0, lead.text.find(best.focus)))
    law = short_title(version_key(lead.title))
    linked = [h for h in retriever.companions(lead)
              if not para or para in (cited_paragraphs(h.text, law, lead.article) or {para})]
    quoted = {hits[c.hit_index].chunk_id for c in chosen}
    # a penalty names the rule broken (违反本法第八条规定的): quote the rule, whatever its share
    hit = _quote_best(q, best.hit_index, hits, chosen, [h for h in retriever.sanctioned(lead) if h.chunk_id not in quoted])
    if hit:
        if len(chosen) >= s.answer_sentences:
            return
        quoted.add(hit.chunk_id)
    linked = [h for h in linked if h.chunk_id not in quoted]
    if q.asks_consequence:  # 被查到会怎么处理: quote the article that sanctions the act too
        # it names the quoted act rather than the asker's words: no share to reach
        sanctions = [h for source in (lead, *linked) for h in retriever.sanctions(source) if h.chunk_id not in quoted]
        hit = _quote_best(q, best.hit_index, hits, chosen, sanctions)
        if hit:
            if len(chosen) >= s.answer_sentences:
                return
            quoted.add(hit.chunk_id)
            linked = [h for h in linked if h.chunk_id != hit.chunk_id]
    current = [(i, h) for i, h in enumerate(hits) if h.article and not h.superseded and h.chunk_id not in quoted]
    # the figure or date asked is the quoted article's own: the article it implements (or that
    # implements it) is read for the rule around it, not for a figure of its own
    rule_q = replace(q, kind="other", unit="") if best.figure and q.kind in ("quantity", "date") else q
    # linked and related articles are scored at the quoted article's rank (they are read
    # together with it); a rival, another article of the same law, at its own
    pools = (([(best.hit_index, h) for h in linked], s.companion_share, rule_q),
             ([(best.hit_index, h) for _, h in current if related_laws(h.title, lead.title)], s.related_share, q),
             ([(i, h) for i, h in current if h.doc_id == lead.doc_id], s.rival_share, q))
    for pool_hits, share, asked in pools:
        found = _best_reading(asked, pool_hits)
        if found and found[1].score >= share * best.score:
            _quote_too(hits, chosen, *found)
            quoted.add(found[0].chunk_id)
            break
    # a court's interpretation that restates the quoted article says how it applies (农民…自繁自用
    # 授权品种的繁殖材料 -> 人民法院不予支持): read with it, besides any companion above
    if len(chosen) < s.answer_sentences:
        found = _best_reading(q, [(best.hit_index, h) for h in retriever.restatements(lead) if h.chunk_id not in quoted])
        if found and found[1].score >= s.related_share * best.score:
            _quote_too(hits, chosen, *found)


def _best_reading(q: Question, ranked: list[tuple[int, Hit]]) -> tuple[Hit, Candidate] | None:
    """The best quote from any of ``ranked`` (each scored at its rank), with its hit; None for none."""
    scored = [(h, c) for rank, h in ranked for c in candidates(q, rank, h)]
    return max(scored, key=lambda hc: hc[1].score) if scored else None


def _quote_best(q: Question, rank: int, hits: list[Hit], chosen: list[Candidate], pool: list[Hit]) -> Hit | None:
    """Quote the best reading of ``pool`` (scored at ``rank``), whatever its share; the hit quoted."""
    found = _best_reading(q, [(rank, h) for h in pool])
    if found:
        _quote_too(hits, chosen, *found)
    return found[0] if found else None


def _quote_too(hits: list[Hit], chosen: list[Candidate], hit: Hit, candidate: Candidate) -> None:
    """Add a quote from ``hit`` (found outside ``hits``, or among them) to the answer."""
    known = next((i for i, h in enumerate(hits) if h.chunk_id == hit.chunk_id), None)
    if known is None:
        hits.append(hit)
        known = len(hits) - 1
    candidate.hit_index = known
    chosen.append(candidate)
