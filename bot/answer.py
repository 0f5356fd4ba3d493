"""Cited answers: the Assistant reads a question once, retrieves, picks what answers it
(:mod:`bot.selection`) and the further articles to quote with it (:mod:`bot.companions`),
composes the quotes with their citations (:mod:`bot.compose`) or refuses (:mod:`bot.refusal`).

The default answerer needs no LLM and quotes the corpus verbatim. A question naming an
article (专利法第五十条) gets that article of the current version. An optional
OpenAI-compatible endpoint (see :mod:`bot.llm`) can phrase the answer instead, from the same
passages only.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import replace

from .companions import add_companion, add_sub_answers
from .compose import SUPERSEDED_NOTE, Answer, Quote, cite_as, compose, quoted
from .config import Settings
from .enactment import compose_history
from .limits import bounded_history
from .query import Question, analyse, is_followup, places_in, resolve_followup, subject_swapped, with_context
from .refusal import (MSG_NEAREST, MSG_REFUSE, about_another_right, date_of_another_event, evidence_strength, matchable_coverage,
                      misses_anchor, unknown_names)
from .retrieval import Hit, Retriever
from .selection import candidates, choose, in_focus
from .statute import ArticleRef, article_refs, book_title, short_title, with_law, without_versions
from .text import match_form

log = logging.getLogger(__name__)

__all__ = ["Answer", "Assistant", "Quote"]

MSG_EMPTY = "请输入您想了解的知识产权政策问题，例如：“烟台有多少个院士工作站？”"
MSG_TOO_LONG = "问题太长了（{n} 字）。请把问题精简到 {limit} 字以内再问。"
MSG_HELLO = ("您好！我回答知识产权法律和政策的问题，每个回答都注明出处（法律名称、条号或文章标题）。"
             "例如：“外观设计专利能保护多久？”“员工在本职工作中做出的发明，专利归谁？”“烟台有多少个院士工作站？”")
MSG_THANKS = "不客气！还有知识产权方面的问题，可以继续问我。"
# a greeting or thanks on its own: no question to search for, and passages "nearest" to 你好 are noise
_HELLO = re.compile(r"(?:你好|您好|嗨|哈喽|hello|hi|在吗|在不在|有人吗)+[啊呀呢吗]?", re.IGNORECASE)
_THANKS = re.compile(r"(?:谢谢|谢了|多谢|感谢|thanks?|thank you|再见|拜拜|好的|明白了|知道了)+(?:你|您|啦|了|啊)?", re.IGNORECASE)
MSG_NOT_A_QUESTION = "没能看懂这个问题。请用中文描述您想了解的知识产权政策，例如：“我的专利能不能申请维持费资助？”"
MSG_NO_LAW = "资料库中没有找到《{law}》，无法查到它的{article}。"
MSG_LAW_ABSENT = "资料库中没有收录《{law}》，无法依据它回答。"
MSG_WHICH_LAW = "您问的是哪部法律的{article}？请带上法律的名称再问，例如：{examples}。"
MSG_TOO_BROAD = ("“{term}”涉及的内容很多，请把问题说得具体一些，例如：“外观设计专利能保护多久？”"
                 "“商标被人抢注了怎么办？”“我的专利能不能申请开放许可？”")
BROAD_RARITY = 2.0  # BM25 idf under which one word alone names no question (专利 0.7, 商标 1.9; 开放许可 5.4)
MSG_NO_LAW_HAS = "资料库中没有哪部法律有{article}，请核对条号。"
MSG_NO_ARTICLE = "{citation}没有{article}（资料库中的{which}文本共{count}条）。"
MSG_OTHER_VERSION = "资料库中的{citation}只有 {dates} 的版本，没有收录 {year} 年的版本，无法引用该版本的原文。"
MSG_SAME_TEXT = "注意：{date} 版的这一条与现行版本（{current}）文字相同，以上引自现行版本。"
MSG_ASKED_VERSION = "注意：以上条文出自您问的 {date} 的版本，该版本已被 {current} 的版本取代。"
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
        # article_refs is a regex; analysing every question with a history twice is not needed
        if any(not ref.law for ref in article_refs(question)) and analyse(question).names_only_an_article:
            # 那第五十一条呢 after 专利法第五十条: an article of the law the conversation is about
            law = next((ref.law for ref in article_refs(previous) if ref.law), "") or self._law_quoted(previous)
            if law:
                return [with_law(question, law)]
        if is_followup(question):
            # the previous question's frame around the new subject, or the new subject in its place
            swapped = subject_swapped(previous, question)
            return [resolve_followup(previous, question), *([swapped] if swapped else [])]
        if not places_in(question) and places_in(previous):
            return [question, with_context(previous, question)]
        return [question]

    def _answer(self, query: str, filters: dict | None) -> tuple[float, Answer]:
        q = analyse(query)
        version, unavailable = self._version_asked(q)
        if unavailable:  # a quote from another version would pass for the one asked about
            return 1.0 if q.refs else 0.0, unavailable
        if version:  # the year says which text to read; it is no term to match (a history line holds it)
            q = replace(analyse(without_versions(query)), versions=q.versions)
        for ref in q.refs:
            if ref.law:
                return 1.0, replace(self._lookup(q, ref, self._superseded(version)), query=query)
        if q.history and (laws := self.retriever.find_law_in(q.history[0])):  # 专利法什么时候施行的
            docs = self.retriever.documents
            doc = docs[version or laws[0]]  # the version asked (2010年版实施细则), else the current
            current = docs[doc.superseded_by].date if doc.superseded_by else ""
            answer = compose_history(q.history[1], doc.title, doc.date, doc.effective, self.retriever.preamble(doc.doc_id),
                                     self.retriever.in_force(doc.doc_id), query, current)
            return (1.0 if answer.answered else 0.0), answer
        if q.names_only_an_article:  # 第五十条: of which law? A search would pick one at random
            return 0.0, self._which_law(q.refs[0], query)
        if self._too_broad(q):  # 专利: thousands of passages say it, none answers it
            return 0.0, Answer(MSG_TOO_BROAD.format(term=q.terms[0]), [], False, query=query)
        if self._superseded(version):
            filters = {**(filters or {}), "doc_id": version}
        absent = [name for name in q.laws if not self.retriever.find_law(name)]
        if absent:  # the answer would quote another law as if it were the one asked about
            # no strength: a reading of the question that names no such law may still answer
            return 0.0, Answer(MSG_LAW_ABSENT.format(law=absent[0]), [], False, query=query)
        hits = self.retriever.search(q, k=max(8, self.settings.citations), filters=filters)
        if not hits:
            return 0.0, Answer(MSG_REFUSE, [], False, query=query)
        cands = [c for i, hit in enumerate(hits) for c in candidates(q, i, hit)]
        chosen = choose(q, hits, cands, self.settings.answer_sentences)
        if chosen and hits[chosen[0].hit_index].article:
            chosen[0] = in_focus(chosen[0], cands, lambda texts: self.retriever.nearness(q.simple, texts))
        # the definition of the asked term answers by itself (短视频构成作品吗 -> 本法所称的作品，是指…)
        defines = bool(chosen) and q.defined_in(match_form(chosen[0].focus))
        if chosen and hits[chosen[0].hit_index].article:
            add_sub_answers(self.retriever, self.settings, q, hits, chosen, filters)
        if not defines:  # an ask's article still has its implementing article (商标法第四十九条 + 条例第六十六条)
            add_companion(self.retriever, self.settings, q, hits, chosen)
        strength = evidence_strength(self.retriever, q, chosen, self.settings.unknown_term_penalty, self.settings.situation_share)
        # colloquial questions share few words with a statute's wording, so an article is
        # trusted at a lower score; places, years and asked amounts still have to match
        statute = bool(chosen) and bool(hits[chosen[0].hit_index].article)
        floor = self.settings.refuse_below_statute if statute else self.settings.refuse_below
        weak = strength < floor or (statute and matchable_coverage(self.retriever, q, chosen[0]) < self.settings.statute_min_coverage)
        if ((weak and not defines) or misses_anchor(q, hits, chosen) or date_of_another_event(self.retriever, q, hits, chosen)
                or unknown_names(self.retriever, q) or about_another_right(q, hits, chosen)):
            return strength, self._refusal(query, hits)
        return strength, compose(q, query, hits, chosen, self.settings.citations, self._superseded_note(version))

    def _version_asked(self, q: Question) -> tuple[str, Answer | None]:
        """The version of a law a question asks for by its year (2010年版实施细则); or, when the
        corpus lacks that version, the answer that says so."""
        docs = self.retriever.documents
        for names, year in q.versions:
            laws, match = self.retriever.find_version(names, year)
            if laws and not match:
                dates = "、".join(docs[d].date for d in laws)
                text = MSG_OTHER_VERSION.format(citation=book_title(docs[laws[0]].title), dates=dates, year=year)
                return "", Answer(text, [], False, query=q.text)
            if match:
                return match, None
        return "", None

    def _superseded(self, version: str) -> str:
        """``version`` if it is an older one, else ""."""
        return version if version and self.retriever.documents[version].superseded_by else ""

    def _superseded_note(self, version: str) -> str:
        version = self._superseded(version)
        if not version:
            return SUPERSEDED_NOTE
        docs = self.retriever.documents
        return MSG_ASKED_VERSION.format(date=docs[version].date, current=docs[docs[version].superseded_by].date)

    def _too_broad(self, q: Question) -> bool:
        """A question that is one word most passages contain (专利, 知识产权): any quote would
        be picked at random."""
        return (len(q.terms) == 1 and _bare(q.simple) == q.terms[0] and not q.places
                and self.retriever.rarity(q.terms[0]) < BROAD_RARITY)

    def _law_quoted(self, question: str) -> str:
        """The law whose article answers ``question`` first, or "". Asked again rather than read
        from the history's answer text, which the client sends and could have changed."""
        _, answer = self._answer(question, None)
        first = answer.citations[0] if answer.answered and answer.citations else None
        return first.title if first and first.article else ""

    def _which_law(self, ref: ArticleRef, query: str) -> Answer:
        docs = self.retriever.documents
        laws = self.retriever.laws_with(ref.label)[:3]
        if not laws:
            return Answer(MSG_NO_LAW_HAS.format(article=ref.label), [], False, query=query)
        examples = "、".join(f"“{short_title(docs[d].title)}{ref.label}”" for d in laws)
        return Answer(MSG_WHICH_LAW.format(article=ref.label, examples=examples), [], False, query=query)

    def _lookup(self, q: Question, ref: ArticleRef, version: str = "") -> Answer:
        """The article a question names, from the current version of that law or the older one asked for."""
        laws = [version] if version else self.retriever.find_law_in(ref.law)
        if not laws:
            return Answer(MSG_NO_LAW.format(law=ref.law, article=ref.label), [], False, query=q.text)
        doc_id = laws[0]
        doc = self.retriever.documents[doc_id]
        hits = self.retriever.article(doc_id, ref.label)
        note = self._superseded_note(version) if version else ""
        if not hits and version and ref.number <= self.retriever.last_article(version):
            # the older version's article reads as the current one's and is kept once, under it
            hits = self.retriever.article(doc.superseded_by, ref.label)
            note = MSG_SAME_TEXT.format(date=doc.date, current=self.retriever.documents[doc.superseded_by].date)
        if not hits:
            count = self.retriever.last_article(doc_id) if version else self.retriever.article_count(doc_id)
            text = MSG_NO_ARTICLE.format(citation=book_title(doc.title), article=ref.label,
                                         which=f"{doc.date} 版" if version else "现行", count=count)
            return Answer(text, [], False, query=q.text)
        body = "\n".join(h.text for h in hits)[:LOOKUP_MAX_CHARS]
        lines = [f"{cite_as(hits[0])} [1]：", f"{quoted(body)} [1]"] + ([note] if note else [])
        quotes = [Quote(1, hits[0].text, 0, len(hits[0].text), cite_as(hits[0]))]
        return Answer("\n\n".join(lines), hits[:1], True, quotes, query=q.text)

    # ---------------------------------------------------------------- steps

    def _check(self, question: str | None) -> str | None:
        text = unicodedata.normalize("NFKC", question or "").strip()
        if not text:
            return MSG_EMPTY
        if len(text) > self.settings.max_question_chars:
            return MSG_TOO_LONG.format(n=len(text), limit=self.settings.max_question_chars)
        bare = _bare(text)
        if _HELLO.fullmatch(bare):
            return MSG_HELLO
        if _THANKS.fullmatch(bare):
            return MSG_THANKS
        meaningful = [c for c in text if c.isalnum() and unicodedata.category(c)[0] in "LN"]
        if not any("\u4e00" <= c <= "\u9fff" for c in meaningful) and len(meaningful) < 3:
            return MSG_NOT_A_QUESTION
        return None

    def _refusal(self, query: str, hits: list[Hit]) -> Answer:
        # a passage sharing no word with the question (今天天气怎么样) is not near, only first
        nearest = [h for h in hits[: self.settings.citations] if h.coverage > 0]
        text = MSG_REFUSE + ("\n\n" + MSG_NEAREST if nearest else "")
        return Answer(text, nearest, False, query=query)


def _bare(text: str) -> str:
    """``text`` without spaces or punctuation: a question that is one word or a greeting, as typed."""
    return re.sub(r"[\s\W_]+", "", text)


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
