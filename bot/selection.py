"""Answer selection: which sentence, clause, article or item of the retrieved passages
answers the question.

News and policy pages are read sentence by sentence (the figures of Chinese reports live in
semicolon-separated clauses); a statute's passage is read by 款 and 项, so an answer can quote
a whole short article, or the sentence that introduces a list plus the one item that applies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from .query import Question
from .retrieval import Hit
from .statute import IN_FORCE, ITEM_START, cn_number, list_intro, states_consequence, strip_label
from .text import DURATION, coverage, figures, in_unit_at, match_form, phrase_share, term_weight, to_simplified

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*[”’」』）)]*")
_CLAUSE = re.compile(r"[^；;]+[；;]?")
# (a programme's 2024年度 names the year it runs for, not the day anything happens)
DATE = re.compile(r"\d{4}\s*年(?!度)(?:\s*\d{1,2}\s*月)?(?:\s*\d{1,2}\s*日)?|\d{1,2}\s*月\s*\d{1,2}\s*日")
_ORG = re.compile(r"[\u4e00-\u9fff]{2,}(?:局|厅|委员会|委|部|办公室|中心|政府|公司|协会|研究所|大学)")
# a phone number or mail address: what a contact question asks for
CONTACT = re.compile(r"\d{3,4}[-－—]\d{7,8}|(?<!\d)1[3-9]\d{9}(?!\d)|[\w.+-]+@[\w-]+\.[\w.]+|电话[:：]?\s*\d{7,}")
# a document number: 鲁知规字〔2018〕7号, 国知发管字〔2021〕12号
DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,8}[〔\[（(]\s*\d{4}\s*[〕\]）)]\s*第?\s*\d+\s*号")
# the other end of a period: 至/到/— and a date (2024年4月30日, or 4月30日 within the year)
_RANGE_END = re.compile(r"\s*(?:至|到|—|–|~|-)\s*(?:" + DATE.pattern + ")")
_RANGE_START = re.compile("(?:" + DATE.pattern + r")\s*(?:至|到|—|–|~|-)\s*")
SECTION_SHARE = 0.9  # another item of the answering section is quoted when it scores this share of the best
HEADING_BONUS = 0.25  # an item under a heading that names the asked aspect (一、申报条件 for 要什么条件)
# the heading words of the section that answers a kind of question (四、申报时间 for 什么时候截止)
KIND_HEADINGS = {"date": ("时间", "日期", "期限"), "contact": ("联系",), "where": ("地点", "地址", "受理")}
_CONDITION = re.compile(r"对|给予|可|须|应当|符合|条件|以上|不超过|最高|范围|资助|补贴|补助|奖励|不得|下列情形|的，")
_YEAR_FIGURE = re.compile(r"^(?:19|20)\d{2}\s*年$")
_ONE_OF = re.compile(r"^[一两]\s*(?:项|件|个|家|位|名|次|篇|笔)$")
_OWNS = re.compile(r"属于|归[^，。；]{0,12}所有|享有|归属")
_IN_FORCE_Q = re.compile(r"施行|实施|生效|有效")
STATUTE_RANK_WEIGHT = 0.25
WHOLE_ARTICLE_MAX = 600  # an article up to this long is quoted whole, its answering part bold when asked
LONG_SENTENCE = 160
ATTRIBUTE_WEIGHT = 2.0  # the term whose size is asked binds a figure more than the question's other terms
DEFINITION_BONUS = 0.35  # the sentence defining the asked term outweighs shared words
CONSEQUENCE_BONUS = 0.05  # asked 会怎么样, a clause saying what follows (终止, 罚款) is preferred
NEARNESS_WEIGHT = 3.0  # per unit of cosine below the nearest item, against the items' word scores


@dataclass
class Candidate:
    """A quotable span of one hit, with how well it answers the question."""

    hit_index: int
    sentence: str  # what is quoted (may join a lead sentence and a clause with ……)
    start: int  # span in the hit's text that is highlighted
    end: int
    score: float
    figure: str
    item: int = 0  # 项 number when the quote is one item of a list
    focus: str = ""  # the clause or item that answers, inside ``sentence``
    coverage: float = 0.0  # share of the question's terms in the quote itself


def split_sentences(text: str) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Sentences as ``(start, end, clauses)``; spans exclude surrounding whitespace."""
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


def _score(q: Question, own_text: str, context: str, clause: str, rank: int, rank_weight: float = 0.08) -> float:
    own = coverage(q.terms, own_text, q.aliases)
    ctx = coverage(q.terms, context, q.aliases)
    return (0.7 * own + 0.3 * ctx + 0.15 * phrase_share(q.terms, own_text, match_form(q.simple)) + type_bonus(q, clause)
            + rank_weight / (rank + 1))


def candidates(q: Question, rank: int, hit: Hit) -> list[Candidate]:
    return statute_candidates(q, rank, hit) if hit.article else sentence_candidates(q, rank, hit)


def sentence_candidates(q: Question, rank: int, hit: Hit) -> list[Candidate]:
    """Every clause of a news or policy passage. A clause inherits the terms of its
    sentence's first clause (where reports put the year and the place) and of the title."""
    title = match_form(hit.title)
    # the place a question names is satisfied by the document being about it ("全市" in a 烟台 report)
    where = "".join(p for p in q.places if p in match_form(hit.title + hit.region))
    # who issued a document, or its number, is asked of the document the title names
    # ("鲁知规字2018第7号文件是谁发的"): the title's words count for every clause of it
    if q.kind in ("who", "docno"):
        where += title
    # a notice's section heading (三、申报材料) says what each item under it is, and when it names
    # what is asked (条件, 材料: a word of the question that the title lacks) its items answer
    heading = match_form(hit.chapter)
    where += heading
    aspect = HEADING_BONUS * (any(t in heading and t not in title for t in q.terms if len(t) >= 2 and t not in q.places)
                              or any(w in heading for w in KIND_HEADINGS.get(q.kind, ())))
    out = []
    for sent_start, sent_end, clauses in split_sentences(hit.text):
        sentence = hit.text[sent_start:sent_end]
        if heading and match_form(sentence) == heading:  # the heading line itself answers nothing
            continue
        lead_start, lead_end = clauses[0]
        lead = hit.text[lead_start:lead_end]
        for start, end in clauses:
            clause = hit.text[start:end]
            own_text = where + match_form(clause if start == lead_start else lead + clause)
            score = _score(q, own_text, title + match_form(sentence), clause, rank) + aspect
            if start != lead_start and sent_end - sent_start > LONG_SENTENCE:
                shown = f"{lead.rstrip('；;')}……{clause}"
            else:
                shown, start, end = sentence, sent_start, sent_end
            score -= 0.1 * (len(shown) > 260)
            score -= 0.05 * (shown.rstrip("”’」』）)")[-1:] not in "。！？!?；;")  # a heading, not a sentence
            out.append(Candidate(rank, shown, start, end, score, key_figure(q, clause), focus=clause))
    return out


def statute_candidates(q: Question, rank: int, hit: Hit) -> list[Candidate]:
    """Each 款 and 项 of an article's passage. An article that is not long is quoted whole
    (people quote the article, and a list reads better with its other items); otherwise an
    item is quoted with the sentence that introduces its list, so the condition reads complete."""
    context = match_form(f"{hit.title}{hit.chapter}{hit.lead}{hit.text}")
    whole = hit.whole_article and len(hit.text) <= WHOLE_ARTICLE_MAX
    out = []
    intro = hit.lead
    for start, end in _paragraphs(hit.text):
        para = hit.text[start:end]
        item = ITEM_START.match(para)
        own_text = match_form((intro + para) if item else (hit.lead + para))
        # everyday wording shares few words with an article: trust the retrieval rank more
        score = _score(q, own_text, context, para, rank, STATUTE_RANK_WEIGHT)
        if whole:
            shown, s, e = hit.text, 0, len(hit.text)
        elif item and intro:
            shown, s, e = f"{intro}……{para}", start, end
        else:
            shown, s, e = para, start, end
        score -= 0.1 * (len(para if whole else shown) > 400)  # an overlong answering part, not its context
        score -= 0.3 * (shown == para and bool(_introduces_list(para)))  # a list's heading alone says nothing
        # 本法自…起施行 answers only a question about when the law applies
        score -= 0.3 * (bool(IN_FORCE.search(para)) and q.kind != "date" and not _IN_FORCE_Q.search(q.simple))
        out.append(Candidate(rank, shown, s, e, score, key_figure(q, para),
                             item=cn_number(item.group(1)) if item else 0, focus=para,
                             coverage=coverage(q.terms, match_form(hit.lead + shown), q.aliases)))
        if not item:
            intro = _introduces_list(para) or intro
    return out


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for part in text.split("\n"):
        s, e = _strip_span(text, pos, pos + len(part))
        if s < e:
            spans.append((s, e))
        pos += len(part) + 1
    return spans


def _introduces_list(paragraph: str) -> str:
    return strip_label(list_intro(paragraph))


def type_bonus(q: Question, clause: str) -> float:
    """How well a clause has the kind of content the question asks for (a definition
    question wants the sentence that defines its term, whatever else it asks)."""
    simple = to_simplified(clause)
    if q.defines and q.defined_in(match_form(clause)):
        return DEFINITION_BONUS
    if q.kind == "quantity":
        found = figures(simple, q.penalties)
        if not found:
            return -0.15
        # a figure said of what was asked (保护期限…为20年 for 能保护多少年), not of something else
        said = 0.05 * any(w in simple for w in (q.attribute, *q.aliases.get(q.attribute, ()))) if q.attribute else 0.0
        if q.unit:  # the asked unit (家, 元, %...) must be there
            return said + (0.15 if any(in_unit_at(simple, m, q.unit, q.asks_part) for m in found) else -0.1)
        return said + 0.08
    if q.kind == "date":
        return 0.15 if DATE.search(simple) else -0.1
    if q.asks_consequence and q.kind not in ("quantity", "date"):  # 不交会怎么样: the clause saying what follows
        return CONSEQUENCE_BONUS if states_consequence(simple) else 0.0
    if q.kind == "condition":
        return 0.1 if _CONDITION.search(clause) else 0.0
    if q.kind == "list":
        return 0.1 if clause.count("、") >= 2 else 0.0
    if q.kind == "owner":
        return 0.1 if _OWNS.search(clause) else 0.0
    if q.kind == "who":
        # a line that is only an organisation's name is a notice's signature: who issued it
        if _ORG.fullmatch(clause.strip()):
            return 0.45
        return 0.25 if _ORG.search(clause) else -0.1
    if q.kind == "docno":
        return 0.3 if DOC_NUMBER.search(simple) else -0.1
    if q.kind == "contact":
        return 0.3 if CONTACT.search(simple) else -0.1
    return 0.0


def choose(q: Question, hits: list[Hit], cands: list[Candidate], max_quotes: int) -> list[Candidate]:
    """The best candidate, then the others an answer needs: figures from other sources or the
    rest of a list (a statute's second article is chosen by the Assistant, which can look up
    the articles that cite it)."""
    cands = sorted(cands, key=lambda c: -c.score)
    if not cands:
        return []
    best = cands[0]
    chosen = [best]
    for c in cands[1:]:
        if len(chosen) >= max_quotes:
            break
        if hits[best.hit_index].article:  # a second article is the Assistant's companion step
            break
        same_doc = hits[c.hit_index].doc_id == hits[best.hit_index].doc_id
        if any(c.sentence == o.sentence for o in chosen):
            continue
        # the other items of a notice's section that answers (一、申报条件: (一)…(二)…(三)…)
        if (q.kind in ("list", "condition", "other") and c.hit_index == best.hit_index and hits[best.hit_index].chapter
                and c.score >= best.score * SECTION_SHARE):
            chosen.append(c)
            continue
        if any(c.figure == o.figure for o in chosen):
            continue
        if not _about_places(q, hits[c.hit_index], c):  # 烟台's 28家 is no answer to "佛山…多少家"
            continue
        if any(c.hit_index == o.hit_index and c.start < o.end and o.start < c.end for o in chosen):
            continue  # another clause of a sentence already quoted: its other figure was not asked
        if q.kind == "quantity" and c.figure and c.score >= best.score * (0.85 if not same_doc else 0.95):
            chosen.append(c)
        elif q.kind == "list" and same_doc and c.score >= best.score * 0.85:
            chosen.append(c)
    return chosen


def in_focus(best: Candidate, cands: list[Candidate], nearness: Callable[[list[str]], list[float]]) -> Candidate:
    """Of the items of the list the best quote is an item of, the one nearest the question in
    meaning: everyday wording shares few words with any item, so word overlap alone often marks
    the wrong one (我的专利押给银行了 names none of （四）专利权被质押's words but 专利). The
    article keeps its score; only which item is in focus changes."""
    items = [c for c in cands if c.hit_index == best.hit_index and c.item]
    if not best.item or len(items) < 2:
        return best
    near = nearness([c.focus for c in items])
    top = max(near)
    pick = max(zip(items, near), key=lambda x: x[0].score + NEARNESS_WEIGHT * (x[1] - top))[0]
    return replace(pick, score=best.score)


def _about_places(q: Question, hit: Hit, c: Candidate) -> bool:
    """Whether a quote can speak for the places the question names: its sentence names one,
    or its whole document is about one."""
    if not q.places:
        return True
    where = match_form(c.sentence + hit.title + hit.region)
    return any(p in where for p in q.places)


def key_figure(q: Question, clause: str) -> str:
    """The figure (or, for date questions, the date) closest to the question's terms.

    Matching runs on the simplified text (萬/億 read as 万/亿) and the figure is returned as
    written in the original where the two line up."""
    text, ranked = _ranked_figures(q, clause)
    if not ranked:
        return ""
    start, end = ranked[0][0].span()
    if q.kind == "date":  # a period (申报时间为3月1日至4月30日) is answered whole, its end is the deadline
        if after := _RANGE_END.match(text, end):
            end = after.end()
        elif before := next((m for m in _RANGE_START.finditer(text, 0, start) if m.end() == start), None):
            start = before.start()
    return text[start:end].strip()


def figure_clause(q: Question, clause: str) -> str:
    """The comma clause that holds the key figure: an article's date is relative to something
    (截止于作品首次发表后第五十年的12月31日), and "12月31日" alone would tell nothing."""
    text, ranked = _ranked_figures(q, clause)
    if not ranked:
        return ""
    lo, hi = ranked[0][2]
    return strip_label(text[lo:hi].strip("，,；;。：: "))


def parallel_figures(q: Question, clause: str) -> list[tuple[str, str]]:
    """``(comma clause, figure)`` for each figure of the asked kind that the question's terms
    bind as tightly as the best one, each in a comma clause of its own: "专利能保护多久" names
    none of 发明 (二十年), 实用新型 (十年) and 外观设计 (十五年), so no one of them is the answer.
    Empty when one figure stands out."""
    text, ranked = _ranked_figures(q, clause)
    tied = sorted(((m, span) for m, (own, _), span in ranked if own == ranked[0][1][0]), key=lambda x: x[0].start()) if ranked else []
    # one figure said twice (…保护期为五十年；…保护期为五十年) is no choice to make
    if len({m.group() for m, _ in tied}) < 2 or len({span for _, span in tied}) < len(tied):
        return []
    return [(strip_label(text[lo:hi].strip("，,；;。：: ")), text[m.start() : m.end()].strip()) for m, (lo, hi) in tied]


def _ranked_figures(q: Question, clause: str) -> tuple[str, list[tuple[re.Match, tuple[float, float], tuple[int, int]]]]:
    """The clause's figures of the asked kind, best first, each with how tightly the question's
    terms bind it (in its own comma clause, and by distance) and its comma clause; and the text
    their offsets index: the clause as written where it lines up with its simplified form."""
    simple = to_simplified(clause)
    if q.kind == "date":
        matches = list(DATE.finditer(simple))
    else:
        # a bare year is context, and "一项/一件" counts the thing itself: neither is the figure asked for
        matches = [m for m in figures(simple, q.penalties)
                   if not _YEAR_FIGURE.match(m.group().strip()) and not _ONE_OF.match(m.group().strip())]
        if q.unit:
            matches = [m for m in matches if in_unit_at(simple, m, q.unit, q.asks_part)] or matches
        elif q.asks_duration:  # 多久 is not answered by 五项
            matches = [m for m in matches if DURATION.search(m.group())]
        # a figure the question states itself (商标明年就满10年了，提前多久能续) is its situation
        stated = {form for t in q.terms for form in (t, *q.aliases.get(t, ()))}
        matches = [m for m in matches if m.group().strip() not in stated] or matches
    # a term counts where the clause says it in the laws' or the report's words too (最多 as 最高)
    occurrences = [(m.start(), m.end(), term_weight(t) * (ATTRIBUTE_WEIGHT if t == q.attribute else 1.0)) for t in q.terms
                   for form in dict.fromkeys((t, *q.aliases.get(t, ()))) for m in re.finditer(re.escape(form), simple)]
    # a figure belongs to the comma clause it stands in ("…实用新型专利权的期限为十年，外观设计
    # 专利权的期限为十五年": 外观设计 counts for 十五年, not for the 十年 before it)
    # (a table row's cells are its clauses, each with its column's name: 上限：30万元 is one)
    breaks = r"[，,；;。|]" if " | " in simple else r"[，,；;。：:]"
    bounds = [0, *(m.end() for m in re.finditer(breaks, simple)), len(simple)]

    def clause_of(pos: int) -> tuple[int, int]:
        i = max(j for j, b in enumerate(bounds) if b <= pos)
        return bounds[i], bounds[min(i + 1, len(bounds) - 1)]

    def closeness(m: re.Match) -> tuple[float, float]:
        # Chinese puts the figure after what it counts ("高层次人才突破10万人"): a term just
        # before the figure binds tighter than one after it
        lo, hi = clause_of(m.start())
        own, near = 0.0, 0.0
        for start, end, weight in occurrences:
            gap = m.start() - end if end <= m.start() else 3 * max(0, start - m.end())
            near += weight / (1 + gap)
            own += weight * (lo <= start and end <= hi)
        return own, near

    scored = [(m, closeness(m), clause_of(m.start())) for m in matches]
    return (clause if len(simple) == len(clause) else simple), sorted(scored, key=lambda x: x[1], reverse=True)
