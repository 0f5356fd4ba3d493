"""When not to answer: weak evidence, a place or year the quoted passages are not about, or a
key term the corpus never mentions. Saying "not covered" beats quoting something related."""

from __future__ import annotations

import re

from .query import ATTRIBUTE_UNITS, Question, asking_clause
from .retrieval import Hit, Retriever
from .selection import CONTACT, DATE, KIND_HEADINGS, Candidate, key_figure
from .statute import rights_named
from .text import get_jieba, has_figure, in_unit, is_noun, match_form, term_weight, to_simplified

_CASE = re.compile(r"官司|案|判|起诉|纠纷|诉讼")
_OUTCOME = re.compile(r"怎么判|如何判|判了|判决|判赔|结果|谁赢|赢了|输了")
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]+)[”\"」』]")
# a year a figure is compared against (较2019年底提高14件) reports nothing about that year
_BASELINE_YEAR = re.compile(r"(?:较|比|相比|相较于?|同比)\s*((?:19|20)\d{2})\s*年")
# an average asked for (实际平均要等多久): a law states rules, a report states averages, and only
# a quote that says 平均 gives one
_AVERAGE = re.compile(r"平均[^，,。？?]{0,6}?(?:多久|多长|多少|几)"
                      # how long one usually waits in line (一般要等几年, 实际要排多久): practice, not a rule
                      r"|(?:一般|通常|实际|大概|往往)[^，,。？?]{0,6}?(?:要|得|需要)?(?:等|排)(?:多久|多长|几)")
_CALENDAR = re.compile(r"几月|几号|哪天|哪一天|哪年|哪一年|哪个月|日期")
_ADDRESS = re.compile(r"[路街道巷]\s*\d+\s*号|大厦|大楼|\d+\s*楼|地址|位于")
# nouns of any situation (这东西, 有道理吗): no topic the corpus could lack
_GENERIC = frozenset("东西 道理 事情 情况 问题 办法 地方 时候 人家 别人 样子 意思 说法 结果".split())
MSG_REFUSE = "抱歉，现有资料中没有找到能回答这个问题的内容，我不做猜测。"
MSG_NEAREST = "以下段落可能相关，供参考："


def evidence_strength(retriever: Retriever, q: Question, chosen: list[Candidate], penalty: float,
                      situation_share: float) -> float:
    """The best quote's score, less the share of the question's nouns that the corpus never
    mentions (赔偿标准, 滞纳金...): on those the corpus cannot be the source."""
    if not chosen:
        return 0.0
    # an attribute the corpus words differently (面积 -> 平方米) is answered by a figure in its unit
    answered = {t for t, unit in ATTRIBUTE_UNITS.items() if unit in chosen[0].figure}
    # an everyday word with a statutory equivalent (版权 -> 著作权) is not unknown to the corpus
    nouns = [t for t in q.terms if len(t) >= 2 and is_noun(t) and t not in answered and t not in q.aliases and t not in _GENERIC]
    # a noun of the situation told before the question (店庆抽奖，头奖放一台电动车，这样合法吗) weighs less than
    # one of the question itself: it sets the scene, the asking clause names what is asked about
    ask = asking_clause(q.simple)
    situation = set() if ask == q.simple.strip() else {t for t in nouns if t not in ask}
    missing = retriever.unknown_terms(nouns)
    total = sum(term_weight(t) for t in q.terms) or 1.0
    return chosen[0].score - penalty * sum(term_weight(t) * (situation_share if t in situation else 1.0) for t in missing) / total


def unknown_names(retriever: Retriever, q: Question) -> list[str]:
    """Names (people, companies, brands: jieba's dictionary tags nr/nt/nz) the corpus never
    mentions, in a question about their case: a figure or date of it (华为跟三星那场官司判赔多少)
    cannot come from the corpus; places have their own check."""
    import jieba
    import jieba.posseg as pseg

    # only a case about them (官司, 判, 纠纷): 我在华为上班 or 在淘宝上卖 is the asker's situation
    # or how it ended (那个“青花椒”商标官司，法院怎么判的)
    if not _CASE.search(q.simple) or (q.kind not in ("quantity", "date") and not _OUTCOME.search(q.simple)):
        return []
    get_jieba()
    tags = pseg.dt.word_tag_tab  # the dictionary's tags: a guessed name (钱才) is not one
    names = [w for w in jieba.lcut(q.simple) if len(w) >= 2 and tags.get(w) in ("nr", "nt", "nz")]
    quoted = [m.strip() for m in _QUOTED.findall(q.simple) if 2 <= len(m.strip()) <= 12]  # a name in quotes
    return retriever.unknown_terms(quoted + names)


def matchable_coverage(retriever: Retriever, q: Question, c: Candidate) -> float:
    """A quote's share of the question's terms, counting only terms some passage could match:
    everyday filler the corpus never uses (压根, 店里, 打算) cannot be covered by any article,
    and unknown nouns are weighed by :func:`evidence_strength` already."""
    total = sum(term_weight(t) for t in q.terms)
    known = sum(term_weight(t) for t in q.terms if t in q.aliases or not retriever.unknown_terms([t]))
    return min(1.0, c.coverage * total / known) if known else 0.0


def misses_anchor(q: Question, hits: list[Hit], chosen: list[Candidate]) -> bool:
    """A question about a place the quoted passage is not about, or a year no retrieved
    passage mentions, is not answered by the corpus, however well the rest matches."""
    best = hits[chosen[0].hit_index]
    about = match_form(best.title + best.text + best.region)
    if q.places and not any(p in about for p in (q.jurisdictions if best.article else q.places)):
        return True
    seen = "".join(match_form(h.title + h.text + h.date) for h in hits[:5])
    baselines = set(_BASELINE_YEAR.findall(q.simple))  # unless the question compares with it too
    reported = _BASELINE_YEAR.sub(lambda m: m.group(0) if m.group(1) in baselines else "", seen)
    if any(y not in reported for y in q.years):
        return True
    # an amount of money asked for (年费多少钱, 要交备案费吗？交多少？) and no amount in the quote:
    # the corpus does not say
    if q.asks_money:
        # the amount must be of the fee or payment asked about (年费 or 收费, not an inventor's 奖金,
        # nor a fine in another quote)
        asked = [t for t in q.terms if len(t) >= 2 and any(c in t for c in "费金款贴偿")]
        # (a share of a sum, 年费的5%, is the part asked by 要多交多少)
        def money(c: Candidate) -> bool:
            return "元" in c.figure or (q.asks_part and in_unit(c.figure, "%")
                                        and has_figure(to_simplified(c.sentence), "元", q.penalties, shares=True))

        if not any(money(c) and (not asked or any(t in match_form(c.sentence) for t in asked)) for c in chosen):
            return True
    # a count or measure asked of the law (一年考几次) that no quoted article states in that unit:
    # the law does not say (news pages count with other words, so only articles)
    if q.kind == "quantity" and q.unit and best.article and not any(has_figure(to_simplified(c.sentence), q.unit, q.penalties, q.asks_part) for c in chosen):
        return True
    # and an article quoted for a count or measure (每科多少分算及格) that states no figure at all
    # ("一个或者多个" counts the thing itself, as the selection of a figure reads it)
    if q.kind == "quantity" and best.article and not any(c.figure or key_figure(q, c.sentence) for c in chosen):
        return True
    # a day, month or year asked for (每年几月份报名) and no date in the quoted article
    if q.kind == "date" and best.article and _CALENDAR.search(q.simple) and not any(DATE.search(to_simplified(c.sentence)) for c in chosen):
        return True
    if _AVERAGE.search(q.simple) and not any("平均" in to_simplified(c.sentence) for c in chosen):
        return True
    # a phone number or mail address asked for and none in the quote
    if q.kind == "contact" and not CONTACT.search(to_simplified(chosen[0].sentence)):
        return True
    # a location asked for (在哪里) and no address in the quote
    return q.kind == "where" and not _ADDRESS.search(chosen[0].sentence)


def about_another_right(q: Question, hits: list[Hit], chosen: list[Candidate]) -> bool:
    """An article about another kind of right than the one asked (a 商标 question answered from
    浙江省专利条例's rule on rewarding inventors) does not answer it, however well its other
    words match."""
    best = hits[chosen[0].hit_index]
    if not best.article:
        # a notice's quotes, each about its own right (专利权质押贷款 | 贴息比例：50% for a 著作权
        # question): every quote names a right and none the one asked
        named = [rights_named(to_simplified(c.focus or c.sentence)) for c in chosen]
        return bool(q.rights) and all(named) and all(q.rights.isdisjoint(r) for r in named)
    quoted = rights_named(to_simplified(best.title + best.text))
    return bool(q.rights and quoted and q.rights.isdisjoint(quoted))


def date_of_another_event(retriever: Retriever, q: Question, hits: list[Hit], chosen: list[Candidate]) -> bool:
    """A date question ("烟台什么时候成为示范城市") answered by a date whose clause is about
    something else (the press conference that reported it): the clause that holds the date, or
    the next one, must name one of the question's two most distinctive terms. An article's date
    without a year is a term the rule sets (截止于…第五十年的12月31日), not the day of an event."""
    if q.kind != "date" or not chosen or not chosen[0].figure:
        return False
    if hits[chosen[0].hit_index].article and "年" not in chosen[0].figure:
        return False
    if any(w in hits[chosen[0].hit_index].chapter for w in KIND_HEADINGS["date"]):  # under 四、申报时间
        return False
    focus = chosen[0].focus
    at = focus.find(chosen[0].figure)
    if at < 0:
        return False
    bounds = [0, *(m.end() for m in re.finditer(r"[，,；;。：:]", focus)), len(focus)]
    # the date's clause and the one after it ("2016年，崂山区获批…": a leading date opens the next)
    start = max(b for b in bounds if b <= at)
    after = [b for b in bounds if b > at]
    clause = match_form(focus[start : after[1] if len(after) > 1 else len(focus)])
    terms = [t for t in q.terms if len(t) >= 2 and t not in q.places and not any(ch.isdigit() for ch in t)]
    distinctive = sorted(terms, key=lambda t: -retriever.rarity(t))[:2]
    return bool(distinctive) and not any(t in clause for t in distinctive)
