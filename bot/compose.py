"""Answer composition: the chosen quotes as Markdown with [n] markers, the asked figure or
condition in bold, and the article a user can cite (《中华人民共和国专利法》第五十条)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from .query import Question
from .retrieval import Hit
from .selection import Candidate, figure_clause, parallel_figures
from .statute import cn_numeral
from .text import match_form

# "对<condition>的…给予…": who or what a measure applies to
_CONDITION_OF = re.compile(r"对([^，。；]{2,60}?)的?(?:择优|分别)?(?:给予|予以|实施|提供|按)")
SUPERSEDED_NOTE = "注意：以上条文出自已被新版本取代的版本，现行版本中未找到相同内容，请核对现行文本。"


@dataclass
class Quote:
    """One quoted passage: which citation it comes from and where it sits in the passage."""

    citation: int  # 1-based [n] marker
    sentence: str
    start: int  # offsets into the cited Hit's text
    end: int
    cite_as: str = ""  # 《…》第八十六条第（四）项, for statute quotes


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


def cite_as(hit: Hit, item: int = 0) -> str:
    """《…》第八十六条, with 第（四）项 when the quote is a single item of a list."""
    return hit.citation + (f"第（{cn_numeral(item)}）项" if item and hit.article else "")


def citation_order(hits: list[Hit], chosen: list[Candidate], minimum: int) -> list[int]:
    """Quoted hits first, then the next best up to ``minimum`` sources."""
    order: list[int] = []
    for c in chosen:
        if c.hit_index not in order:
            order.append(c.hit_index)
    for i in range(len(hits)):
        if len(order) >= max(minimum, len(order)):
            break
        if i not in order:
            order.append(i)
    return order


def compose(q: Question, query: str, hits: list[Hit], chosen: list[Candidate], citations: int,
            superseded_note: str = SUPERSEDED_NOTE) -> Answer:
    order = citation_order(hits, chosen, citations)
    marker = {hit_index: n for n, hit_index in enumerate(order, 1)}
    lines = []
    several = len({hits[c.hit_index].doc_id for c in chosen}) > 1
    statute = bool(hits[chosen[0].hit_index].article)
    if q.kind == "condition" and not statute:
        m = _CONDITION_OF.search(chosen[0].sentence)
        if m:
            lines.append(f"适用条件：**{m.group(1)}**")
    if q.kind in ("quantity", "date"):
        # a statute's figure is the quoted article's own, never a companion's (another law's 五百万元)
        figures = [(c.figure, marker[c.hit_index]) for c in (chosen[:1] if statute else chosen) if c.figure]
        parallel = parallel_figures(q, chosen[0].focus) if statute and figures else []
        if len(figures) > 1 and not statute:
            lines.append("；".join(f"**{fig}** [{n}]" for fig, n in figures))
        elif parallel:  # 专利能保护多久: 发明 二十年, 实用新型 十年, 外观设计 十五年 — each with what it is for
            lines.append("；".join(part.replace(fig, f"**{fig}**", 1) for part, fig in parallel))
        elif figures and statute and q.kind == "date":  # 保护到什么时候: the date with what it counts from
            fig = figures[0][0]
            lines.append(figure_clause(q, chosen[0].focus).replace(fig, f"**{fig}**", 1) or f"**{fig}**")
        elif figures:
            lines.append(f"**{figures[0][0]}**")
    cites = [cite_as(hits[c.hit_index], _item_asked(q, c, hits[c.hit_index])) for c in chosen]
    for c, cited in zip(chosen, cites):
        hit = hits[c.hit_index]
        n = marker[c.hit_index]
        if hit.article:
            lines.append(f"依据{cited} [{n}]：")
            lines.append(f"{quoted(_bold_focus(q, c))} [{n}]")
        else:
            source = f"（{hit.title}，{hit.date or '日期不详'}）" if several else ""
            lines.append(f"> {c.sentence} [{n}]{source}")
    if several and q.kind == "quantity" and not statute:
        lines.append("不同来源的数字口径或年份不同，请按日期和出处引用。")
    if statute and all(hits[c.hit_index].superseded for c in chosen):
        lines.append(superseded_note)
    quotes = [Quote(marker[c.hit_index], c.sentence, c.start, c.end, cited) for c, cited in zip(chosen, cites)]
    return Answer("\n\n".join(lines), [hits[i] for i in order], True, quotes, query=query)


def _item_asked(q: Question, c: Candidate, hit: Hit) -> int:
    """The 项 to name in the citation (the one that applies). A whole list quoted for 有哪些 /
    享有什么权利 is the answer itself: it is cited as the article, not as the item that
    happened to match best."""
    return 0 if q.kind == "list" and c.sentence == hit.text else c.item


def _bold_focus(q: Question, c: Candidate) -> str:
    """Inside a quoted article, bold only the part that was asked: the item or later 款 that
    states the condition (（四）专利权被质押…, 县级以上行政区划的地名…不得作为商标) or the sentence
    that defines the asked term. A first 款 opens the quote and needs no bold."""
    text = c.sentence
    focus = c.focus.strip()
    later = focus and text.find(focus) > 0
    asked = (q.kind == "condition" and (c.item or later)) or q.defined_in(match_form(focus))
    if asked and focus and focus in text and focus != text.strip():
        return text.replace(focus, f"**{focus}**", 1)
    return text


def quoted(text: str) -> str:
    """A statute quote keeps its 款 and 项 on lines of their own: a list read as one run-on line hides the item."""
    return "\n".join(f"> {line.strip()}" for line in text.splitlines() if line.strip())
