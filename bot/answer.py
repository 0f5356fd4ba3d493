"""Cited answers: pick the sentences that answer the question, quote them, or refuse.

The default answerer needs no LLM: it scores the sentences of the retrieved passages against
the question (term coverage, what kind of answer the question wants, the passage's rank),
quotes the best ones verbatim in their original script with [n] markers, and refuses when the
evidence is weak. An optional OpenAI-compatible endpoint (see :mod:`bot.llm`) can phrase the
answer instead, from the same passages only.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, field

from .config import Settings
from .query import ATTRIBUTE_UNITS, Question, analyse, is_followup, places_in, resolve_followup, with_context
from .retrieval import Hit, Retriever
from .text import coverage, is_noun, phrase_share, match_form, term_weight, to_simplified

log = logging.getLogger(__name__)

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*[”’」』）)]*")
_CLAUSE = re.compile(r"[^；;]+[；;]?")
_FIGURE = re.compile(
    r"(?:约|超过?|突破|近|达到?|不超过|最高|不低于)?\d[\d,，.]*\s*(?:万|亿|千|百)?\s*"
    r"(?:元|件|家|项|个|笔|人|位|次|名|篇|倍|届|年|月|日|平方米|亿元|万元|%|％|件次|家\(次\)|家（次）)"
)
_DATE = re.compile(r"\d{4}\s*年(?:\s*\d{1,2}\s*月)?(?:\s*\d{1,2}\s*日)?|\d{1,2}\s*月\s*\d{1,2}\s*日")
_ORG = re.compile(r"[\u4e00-\u9fff]{2,}(?:局|厅|委员会|委|部|办公室|中心|政府|公司|协会|研究所|大学)")
# "对<condition>的…给予…": who or what a measure applies to
_CONDITION_OF = re.compile(r"对([^，。；]{2,60}?)的?(?:择优|分别)?(?:给予|予以|实施|提供|按)")
_CONDITION = re.compile(r"对|给予|可|须|应当|符合|条件|以上|不超过|最高|范围|资助|补贴|补助|奖励")


@dataclass
class Quote:
    """One quoted sentence: which citation it comes from and where it sits in the passage."""

    citation: int  # 1-based [n] marker
    sentence: str
    start: int  # offsets into the cited Hit's text
    end: int


@dataclass
class Answer:
    text: str  # Markdown with [n] markers
    citations: list[Hit]
    answered: bool
    quotes: list[Quote] = field(default_factory=list)
    query: str = ""  # the question as understood (follow-ups resolved)
    notice: str = ""  # e.g. why the LLM was not used

    def to_dict(self) -> dict:
        return {
            "text": self.text, "answered": self.answered, "query": self.query, "notice": self.notice,
            "citations": [h.to_dict() for h in self.citations], "quotes": [asdict(q) for q in self.quotes],
        }


@dataclass
class _Candidate:
    hit_index: int
    sentence: str
    start: int
    end: int
    score: float
    figure: str


MSG_EMPTY = "请输入您想了解的知识产权政策问题，例如：“烟台有多少个院士工作站？”"
MSG_TOO_LONG = "问题太长了（{n} 字）。请把问题精简到 {limit} 字以内再问。"
MSG_NOT_A_QUESTION = "没能看懂这个问题。请用中文描述您想了解的知识产权政策，例如：“我的专利能不能申请维持费资助？”"
MSG_REFUSE = "抱歉，现有资料中没有找到能回答这个问题的内容，我不做猜测。"
MSG_NEAREST = "以下段落可能相关，供参考："


def split_sentences(text: str) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Sentences as ``(start, end, clauses)``; clauses are the semicolon-separated parts, where
    the figures of Chinese reports live. Spans exclude surrounding whitespace."""
    out = []
    for m in _SENTENCE.finditer(text):
        start, end = _strip_span(text, m.start(), m.end())
        if start >= end:
            continue
        clauses = [_strip_span(text, start + c.start(), start + c.end()) for c in _CLAUSE.finditer(text[start:end])]
        out.append((start, end, [c for c in clauses if c[0] < c[1]] or [(start, end)]))
    return out


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


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
        hits = self.retriever.search(query, k=max(8, self.settings.citations), filters=filters)
        if not hits:
            return 0.0, Answer(MSG_REFUSE, [], False, query=query)
        chosen = self._choose(q, hits)
        strength = self.evidence_strength(q, chosen) if chosen else 0.0
        if strength < self.settings.refuse_below or self._misses_anchor(q, hits, chosen):
            return strength, self._refusal(query, hits)
        return strength, self._compose(q, query, hits, chosen)

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

    def _choose(self, q: Question, hits: list[Hit]) -> list[_Candidate]:
        cands = [c for i, hit in enumerate(hits) for c in self._candidates(q, i, hit)]
        cands.sort(key=lambda c: -c.score)
        if not cands:
            return []
        best = cands[0]
        chosen = [best]
        for c in cands[1:]:
            if len(chosen) >= self.settings.answer_sentences:
                break
            if any(c.sentence == o.sentence or c.figure == o.figure for o in chosen):
                continue
            same_doc = hits[c.hit_index].doc_id == hits[best.hit_index].doc_id
            # a second quote must give another figure (another source, or a close call in the
            # same one), or continue a list
            if q.kind == "quantity" and c.figure and c.score >= best.score * (0.85 if not same_doc else 0.95):
                chosen.append(c)
            elif q.kind == "list" and same_doc and c.score >= best.score * 0.85:
                chosen.append(c)
        return chosen

    def _candidates(self, q: Question, rank: int, hit: Hit) -> list[_Candidate]:
        """Score every clause of a passage. A clause inherits the terms of its sentence's
        first clause (where Chinese reports put the year and the place) and of the title."""
        title = match_form(hit.title)
        # the place a question names is satisfied by the document being about it ("全市" in a 烟台 report)
        where = "".join(p for p in q.places if p in match_form(hit.title + hit.region))
        out = []
        for sent_start, sent_end, clauses in split_sentences(hit.text):
            sentence = hit.text[sent_start:sent_end]
            lead_start, lead_end = clauses[0]
            lead = hit.text[lead_start:lead_end]
            for start, end in clauses:
                clause = hit.text[start:end]
                own_text = where + match_form(clause if start == lead_start else lead + clause)
                own = coverage(q.terms, own_text)
                ctx = coverage(q.terms, title + match_form(sentence))
                score = (0.7 * own + 0.3 * ctx + 0.15 * phrase_share(q.terms, own_text)
                         + self._type_bonus(q, clause) + 0.08 / (rank + 1))
                if start != lead_start and sent_end - sent_start > 160:
                    shown = f"{lead.rstrip('；;')}……{clause}"
                else:
                    shown, start, end = sentence, sent_start, sent_end
                score -= 0.1 * (len(shown) > 260)
                score -= 0.05 * (shown.rstrip("”’」』）)")[-1:] not in "。！？!?；;")  # a heading, not a sentence
                out.append(_Candidate(rank, shown, start, end, score, _key_figure(q, clause)))
        return out

    @staticmethod
    def _type_bonus(q: Question, sentence: str) -> float:
        if q.kind == "quantity":
            figures = [m.group() for m in _FIGURE.finditer(to_simplified(sentence))]
            if not figures:
                return -0.15
            if q.unit:  # the asked unit (家, 元, %...) must be there
                return 0.15 if any(q.unit in f for f in figures) else -0.1
            return 0.08
        if q.kind == "date":
            return 0.15 if _DATE.search(to_simplified(sentence)) else -0.1
        if q.kind == "condition":
            return 0.1 if _CONDITION.search(sentence) else 0.0
        if q.kind == "list":
            return 0.1 if sentence.count("、") >= 2 else 0.0
        if q.kind == "who":
            return 0.25 if _ORG.search(sentence) else -0.1
        return 0.0

    def evidence_strength(self, q: Question, chosen: list[_Candidate]) -> float:
        """The best sentence's score, less the share of the question's nouns that the corpus
        never mentions (赔偿标准, 滞纳金...): on those the corpus cannot be the source."""
        # an attribute the corpus words differently (面积 -> 平方米) is answered by a figure in its unit
        answered = {t for t, unit in ATTRIBUTE_UNITS.items() if unit in chosen[0].figure}
        nouns = [t for t in q.terms if len(t) >= 2 and is_noun(t) and t not in answered]
        missing = self.retriever.unknown_terms(nouns)
        total = sum(term_weight(t) for t in q.terms) or 1.0
        return chosen[0].score - self.settings.unknown_term_penalty * sum(term_weight(t) for t in missing) / total

    def _misses_anchor(self, q: Question, hits: list[Hit], chosen: list[_Candidate]) -> bool:
        """A question about a place the quoted passage is not about, or a year no retrieved
        passage mentions, is not answered by the corpus, however well the rest matches."""
        best = hits[chosen[0].hit_index]
        about = match_form(best.title + best.text + best.region)
        if q.places and not any(p in about for p in q.places):
            return True
        seen = "".join(match_form(h.title + h.text + h.date) for h in hits[:5])
        return any(y not in seen for y in q.years)

    def _compose(self, q: Question, query: str, hits: list[Hit], chosen: list[_Candidate]) -> Answer:
        order: list[int] = []
        for c in chosen:
            if c.hit_index not in order:
                order.append(c.hit_index)
        for i in range(len(hits)):
            if len(order) >= max(self.settings.citations, len(order)):
                break
            if i not in order:
                order.append(i)
        marker = {hit_index: n for n, hit_index in enumerate(order, 1)}
        lines = []
        several = len({hits[c.hit_index].doc_id for c in chosen}) > 1
        if q.kind == "condition":
            m = _CONDITION_OF.search(chosen[0].sentence)
            if m:
                lines.append(f"适用条件：**{m.group(1)}**")
        if q.kind in ("quantity", "date"):
            figures = [(c.figure, marker[c.hit_index]) for c in chosen if c.figure]
            if len(figures) > 1:
                lines.append("；".join(f"**{fig}** [{n}]" for fig, n in figures))
            elif figures:
                lines.append(f"**{figures[0][0]}**")
        for c in chosen:
            hit = hits[c.hit_index]
            source = f"（{hit.title}，{hit.date or '日期不详'}）" if several else ""
            lines.append(f"> {c.sentence} [{marker[c.hit_index]}]{source}")
        if several and q.kind == "quantity":
            lines.append("不同来源的数字口径或年份不同，请按日期和出处引用。")
        quotes = [Quote(marker[c.hit_index], c.sentence, c.start, c.end) for c in chosen]
        return Answer("\n\n".join(lines), [hits[i] for i in order], True, quotes, query=query)

    def _refusal(self, query: str, hits: list[Hit]) -> Answer:
        nearest = hits[: self.settings.citations]
        text = MSG_REFUSE + ("\n\n" + MSG_NEAREST if nearest else "")
        return Answer(text, nearest, False, query=query)


def _key_figure(q: Question, clause: str) -> str:
    """The figure (or, for date questions, the date) closest to the question's terms.

    Matching runs on the simplified text (萬/億 read as 万/亿) and the figure is returned as
    written in the original where the two line up."""
    simple = to_simplified(clause)
    if q.kind == "date":
        matches = list(_DATE.finditer(simple))
    else:
        # a bare year is context, not the figure asked for
        matches = [m for m in _FIGURE.finditer(simple) if not _YEAR_FIGURE.match(m.group().strip())]
        if q.unit:
            matches = [m for m in matches if q.unit in m.group()] or matches
    if not matches:
        return ""
    occurrences = [(m.start(), m.end(), term_weight(t)) for t in q.terms for m in re.finditer(re.escape(t), simple)]

    def closeness(m: re.Match) -> float:
        # Chinese puts the figure after what it counts ("高层次人才突破10万人"): a term just
        # before the figure binds tighter than one after it
        score = 0.0
        for start, end, weight in occurrences:
            gap = m.start() - end if end <= m.start() else 3 * max(0, start - m.end())
            score += weight / (1 + gap)
        return score

    best = max(matches, key=closeness)
    same_length = len(simple) == len(clause)
    return (clause[best.start() : best.end()] if same_length else best.group()).strip()


_YEAR_FIGURE = re.compile(r"^(?:19|20)\d{2}\s*年$")


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
