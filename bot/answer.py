"""Cited answers: the Assistant reads a question once, retrieves, picks what answers it
(:mod:`bot.selection`), composes the quote with its citation (:mod:`bot.compose`) or
refuses (:mod:`bot.refusal`).

The default answerer needs no LLM and quotes the corpus verbatim. A question naming an
article (专利法第五十条) gets that article of the current version. An optional
OpenAI-compatible endpoint (see :mod:`bot.llm`) can phrase the answer instead, from the same
passages only.
"""

from __future__ import annotations

import logging
import unicodedata

from .compose import Answer, Quote, compose, cite_as
from .config import Settings
from .limits import bounded_history
from .query import Question, analyse, is_followup, places_in, resolve_followup, sub_questions, with_context
from .refusal import MSG_NEAREST, MSG_REFUSE, evidence_strength, misses_anchor
from .retrieval import Hit, Retriever
from .selection import Candidate, candidates, choose
from .statute import ArticleRef, book_title, cited_paragraphs, paragraph_at, related_laws, short_title, version_key
from .text import match_form

log = logging.getLogger(__name__)

__all__ = ["Answer", "Assistant", "Quote"]

MSG_EMPTY = "请输入您想了解的知识产权政策问题，例如：“烟台有多少个院士工作站？”"
MSG_TOO_LONG = "问题太长了（{n} 字）。请把问题精简到 {limit} 字以内再问。"
MSG_NOT_A_QUESTION = "没能看懂这个问题。请用中文描述您想了解的知识产权政策，例如：“我的专利能不能申请维持费资助？”"
MSG_NO_LAW = "资料库中没有找到《{law}》，无法查到它的{article}。"
MSG_NO_ARTICLE = "{citation}没有{article}（资料库中的现行文本共{count}条）。"
MSG_OTHER_VERSION = "资料库中的{citation}是 {date} 的版本，没有收录 {year} 年的版本，无法引用该版本的原文。"
LOOKUP_MAX_CHARS = 1500


class Assistant:
    """Answers questions from a :class:`Retriever`, citing every quoted passage.

    >>> a = Assistant(Retriever.load("index"))
    >>> ans = a.ask("烟台有多少个院士工作站")
    >>> ans.answered, ans.citations[0].title
    """

    def __init__(self, retriever: Retriever, settings: Settings | None = None, llm=None) -> None:
        self.retriever = retriever
        self.settings = settings or retriever.settings
        if llm is None and self.settings.llm_base_url:
            from .llm import ChatClient

            llm = ChatClient.from_settings(self.settings)
        self.llm = llm

    # ---------------------------------------------------------------- public

    def ask(self, question: str, history: list | None = None, filters: dict | None = None) -> Answer:
        problem = self._check(question)
        if problem:
            return Answer(problem, [], False, query=(question or "")[:100])
        history = bounded_history(history, self.settings)
        best: tuple[float, Answer] | None = None
        for n, query in enumerate(self.interpretations(question, history)):
            strength, answer = self._answer(query, filters)
            # a reading with context must beat the literal question clearly
            if best is None or strength > best[0] + (0.05 if n else 0.0):
                best = (strength, answer)
        answer = best[1]
        if self.llm is not None and answer.answered:
            from .llm import generate_answer

            answer = generate_answer(self.llm, question, answer)
        return answer

    def interpretations(self, question: str, history: list | None) -> list[str]:
        """Readings of ``question`` to try, most literal first.

        An explicit follow-up ("那科信贷呢？") is rewritten with the previous turn's region and
        frame; a question without a place of its own after earlier turns is tried both as
        asked and with the previous turn's place and subject in front.
        """
        question = question.strip()
        previous = None
        for turn in _user_turns(history):
            previous = turn if previous is None else self.interpretations(turn, [{"role": "user", "content": previous}])[-1]
        if previous is None:
            return [question]
        if is_followup(question):
            return [resolve_followup(previous, question)]
        if not places_in(question) and places_in(previous):
            return [question, with_context(previous, question)]
        return [question]

    def _answer(self, query: str, filters: dict | None) -> tuple[float, Answer]:
        q = analyse(query)
        for ref in q.refs:
            if ref.law:
                return 1.0, self._lookup(q, ref)
        hits = self.retriever.search(q, k=max(8, self.settings.citations), filters=filters)
        if not hits:
            return 0.0, Answer(MSG_REFUSE, [], False, query=query)
        chosen = choose(q, hits, [c for i, hit in enumerate(hits) for c in candidates(q, i, hit)],
                        self.settings.answer_sentences)
        # the definition of the asked term answers by itself (短视频构成作品吗 -> 本法所称的作品，是指…)
        defines = bool(chosen) and q.defined_in(match_form(chosen[0].focus))
        if chosen and hits[chosen[0].hit_index].article:
            self._add_sub_answers(q, hits, chosen, filters)
        if not defines and len(chosen) == 1:  # each ask already has its article otherwise
            self._add_companion(q, hits, chosen)
        strength = evidence_strength(self.retriever, q, chosen, self.settings.unknown_term_penalty)
        # colloquial questions share few words with a statute's wording, so an article is
        # trusted at a lower score; places, years and asked amounts still have to match
        statute = bool(chosen) and bool(hits[chosen[0].hit_index].article)
        floor = self.settings.refuse_below_statute if statute else self.settings.refuse_below
        weak = strength < floor or (statute and chosen[0].coverage < self.settings.statute_min_coverage)
        if (weak and not defines) or misses_anchor(q, hits, chosen):
            return strength, self._refusal(query, hits)
        return strength, compose(q, query, hits, chosen, self.settings.citations)

    def _add_sub_answers(self, q: Question, hits: list[Hit], chosen: list, filters: dict | None) -> None:
        """A question that asks two things ("忘了交年费会怎么样？还有补救的机会吗？") is often
        answered by two articles: each ask is looked up alone, and its article is quoted too when
        it is another one and answers that ask well enough to be quoted on its own."""
        s = self.settings
        for part in sub_questions(q.text):
            if len(chosen) >= s.answer_sentences:
                return
            pq = analyse(part)
            found = self.retriever.search(pq, k=5, filters=filters)
            picked = choose(pq, found, [c for i, h in enumerate(found) for c in candidates(pq, i, h)], 1)
            if not picked:
                continue
            c, hit = picked[0], found[picked[0].hit_index]
            quoted = {hits[o.hit_index].chunk_id for o in chosen}
            if (not hit.article or hit.superseded or hit.chunk_id in quoted or c.coverage < s.statute_min_coverage
                    or evidence_strength(self.retriever, pq, [c], s.unknown_term_penalty) < s.refuse_below_statute):
                continue
            _quote_too(hits, chosen, hit, c)

    def _add_companion(self, q: Question, hits: list[Hit], chosen: list) -> None:
        """A law's article and the regulation article that implements it answer together
        (专利法第四十二条 + 实施细则第七十七条 on 期限补偿): quote the best article that cites the
        quoted one or is cited by it, or else the best retrieved article of a related law, when
        it also answers the question; failing both, another retrieved article of the same law
        that answers nearly as well (two close readings are both shown, for the user to judge)."""
        if not chosen or not hits[chosen[0].hit_index].article or len(chosen) >= self.settings.answer_sentences:
            return
        best = chosen[0]
        lead = hits[best.hit_index]
        # an article that cites another 款 of the quoted article answers another question
        # (细则第八十一条 implements 第四十二条第三款 on new drugs, not 第二款 on slow examination)
        para = paragraph_at(lead.text, max(0, lead.text.find(best.focus)))
        law = short_title(version_key(lead.title))
        linked = [h for h in self.retriever.companions(lead)
                  if not para or para in (cited_paragraphs(h.text, law, lead.article) or {para})]
        quoted = {hits[c.hit_index].chunk_id for c in chosen}
        linked = [h for h in linked if h.chunk_id not in quoted]
        current = [(i, h) for i, h in enumerate(hits) if h.article and not h.superseded and h.chunk_id not in quoted]
        # linked and related articles are scored at the quoted article's rank (they are read
        # together with it); a rival, another article of the same law, at its own
        pools = (([(best.hit_index, h) for h in linked], self.settings.companion_share),
                 ([(best.hit_index, h) for _, h in current if related_laws(h.title, lead.title)], self.settings.related_share),
                 ([(i, h) for i, h in current if h.doc_id == lead.doc_id], self.settings.rival_share))
        for pool_hits, share in pools:
            pool = [(h, c) for rank, h in pool_hits for c in candidates(q, rank, h)]
            if not pool:
                continue
            hit, top = max(pool, key=lambda hc: hc[1].score)
            if top.score < share * best.score:
                continue
            _quote_too(hits, chosen, hit, top)
            return

    def _lookup(self, q: Question, ref: ArticleRef) -> Answer:
        """The article a question names, from the current version of that law."""
        laws = self.retriever.find_law(ref.law)
        if not laws:
            return Answer(MSG_NO_LAW.format(law=ref.law, article=ref.label), [], False, query=q.text)
        doc_id = laws[0]
        doc = self.retriever.documents[doc_id]
        if q.years and not any(doc.date.startswith(y) for y in q.years):
            text = MSG_OTHER_VERSION.format(citation=book_title(doc.title), date=doc.date, year="、".join(q.years))
            return Answer(text, [], False, query=q.text)
        hits = self.retriever.article(doc_id, ref.label)
        if not hits:
            text = MSG_NO_ARTICLE.format(citation=book_title(doc.title), article=ref.label,
                                         count=self.retriever.article_count(doc_id))
            return Answer(text, [], False, query=q.text)
        body = "\n".join(h.text for h in hits)[:LOOKUP_MAX_CHARS].replace("\n\n", "\n").replace("\n", " ")
        lines = [f"{cite_as(hits[0])} [1]：", f"> {body} [1]"]
        quotes = [Quote(1, hits[0].text, 0, len(hits[0].text), cite_as(hits[0]))]
        return Answer("\n\n".join(lines), hits[:1], True, quotes, query=q.text)

    # ---------------------------------------------------------------- steps

    def _check(self, question: str | None) -> str | None:
        text = unicodedata.normalize("NFKC", question or "").strip()
        if not text:
            return MSG_EMPTY
        if len(text) > self.settings.max_question_chars:
            return MSG_TOO_LONG.format(n=len(text), limit=self.settings.max_question_chars)
        meaningful = [c for c in text if c.isalnum() and unicodedata.category(c)[0] in "LN"]
        if not any("\u4e00" <= c <= "\u9fff" for c in meaningful) and len(meaningful) < 3:
            return MSG_NOT_A_QUESTION
        return None

    def _refusal(self, query: str, hits: list[Hit]) -> Answer:
        nearest = hits[: self.settings.citations]
        text = MSG_REFUSE + ("\n\n" + MSG_NEAREST if nearest else "")
        return Answer(text, nearest, False, query=query)


def _quote_too(hits: list[Hit], chosen: list[Candidate], hit: Hit, candidate: Candidate) -> None:
    """Add a quote from ``hit`` (found outside ``hits``, or among them) to the answer."""
    known = next((i for i, h in enumerate(hits) if h.chunk_id == hit.chunk_id), None)
    if known is None:
        hits.append(hit)
        known = len(hits) - 1
    candidate.hit_index = known
    chosen.append(candidate)


def _user_turns(history: list | None) -> list[str]:
    """User messages from ``[{"role", "content"}]`` history (content as a string or as Gradio's
    ``[{"type": "text", "text": ...}]`` parts) or from ``[(user, bot)]`` pairs."""
    turns = []
    for item in history or []:
        if isinstance(item, dict):
            if item.get("role") == "user":
                turns.append(_text_of(item.get("content")))
        elif isinstance(item, (list, tuple)) and item:
            turns.append(_text_of(item[0]))
    return [t for t in turns if t.strip()]


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, (list, tuple)):
        return "".join(_text_of(part) for part in content)
    return ""
