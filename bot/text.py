"""Chinese text normalisation and tokenisation used for matching (never for display).

Traditional and simplified Chinese, full- and half-width forms and stray whitespace must all
compare equal, so both the corpus and the questions go through :func:`match_form`.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable

log = logging.getLogger(__name__)

_WS = re.compile(r"\s+")
_PUNCT_TOKEN = re.compile(r"^[\W_]+$")
# function words and question words that carry no topic
STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 有 为 对 把 被 将 从 以 于 等 中 上 下 也 都 就 还 又 这 那 这个 那个 这些 那些 "
    "吗 呢 吧 啊 呀 么 嘛 么样 什么 怎么 怎么样 怎样 如何 多少 几 几个 几项 哪些 哪个 哪里 哪 谁 是否 能否 "
    "能不能 可不可以 有没有 是不是 请问 一下 我 我们 你 你们 他 她 它 他们 那边 这边 边 个 项 件 家 之 其 "
    "到 给 让 要 会 能 可以 可 已经 已 做 弄 搞 拿 拿到 得到 获得 啦 时候 什么时候 哪家 哪几个 哪几 一共 总共 "
    "不能 现在 目前 多大 第几 几家 程度 做到 里 么 啥 咋 咋样 具体 情况 相关 方面 问题 知道 想 想问 "
    "告诉 一共有 大概 大约 左右 去 着 跟 没 没有 别人 觉得 根本 一点 有个 一个 这样 那样 还能 马上 刚 后来 "
    "因为 所以 但是 就是 只是 一般 实在 特别 专门 其实 听说 看到 不用 一定 自己 俩 需要 应该 的话 "
    "怎么办 咋办 算不算 算 行吗 可以吗 会不会 不会".split()
)


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


class BoundedCache:
    """A thread-safe LRU cache bounded by the characters it holds, not only by its entries:
    an entry-count bound alone lets a few huge queries pin megabytes for the server's life.
    Strings longer than ``max_item_chars`` are computed but never kept."""

    def __init__(self, max_chars: int, max_item_chars: int) -> None:
        self.max_chars, self.max_item_chars = max_chars, max_item_chars
        self._data: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, key: str, compute) -> str:  # noqa: ANN001 - any str -> str function
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
                return value
        value = compute(key)
        if len(key) <= self.max_item_chars:
            with self._lock:
                if key not in self._data:
                    self._data[key] = value
                    self._chars += len(key) + len(value)
                while self._chars > self.max_chars:
                    old_key, old_value = self._data.popitem(last=False)
                    self._chars -= len(old_key) + len(old_value)
        return value

    @property
    def chars(self) -> int:
        """Characters held (keys and values)."""
        return self._chars


# passages at build time and query terms at search time repeat; 16M characters is ~64 MB at most
_SIMPLIFIED = BoundedCache(max_chars=16_000_000, max_item_chars=2_000)


def to_simplified(text: str) -> str:
    """Traditional to simplified Chinese (OpenCC), NFKC-folded first."""
    return _SIMPLIFIED.get(text, _simplify)


def _simplify(text: str) -> str:
    return _t2s().convert(unicodedata.normalize("NFKC", text))


def match_form(text: str) -> str:
    """The comparison form: NFKC, simplified, lower-case, no whitespace at all."""
    return _WS.sub("", to_simplified(text)).lower()


@functools.lru_cache(maxsize=1)
def get_jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    for word in DOMAIN_WORDS:
        jieba.add_word(word, tag="nz")
    return jieba


# Terms jieba's general dictionary cuts apart, so exact policy terms stay one token.
DOMAIN_WORDS = (
    "知识产权", "专利权", "质押融资", "质押贷款", "专利导航", "开放许可", "维持费", "高价值专利",
    "万人发明专利拥有量", "发明专利", "证券化", "科信贷", "专利奖", "示范区", "试验区", "集聚区",
    "保护中心", "运营中心", "院士工作站", "博士后", "新旧动能转换", "贯标", "托管服务", "地理标志",
    "崂山区", "黄渤海新区", "专精特新", "独角兽", "瞪羚企业",
    "年费", "评估费", "代理费",  # else jieba guesses 年费能 (年费能报销吗) as one word
)


def tokenize(text: str) -> list[str]:
    """Search tokens for BM25: jieba's search-mode cut of the match form, without stopwords."""
    jieba = get_jieba()
    norm = to_simplified(text).lower()
    tokens = []
    for tok in jieba.lcut_for_search(norm):
        tok = tok.strip()
        if tok and tok not in STOPWORDS and not _PUNCT_TOKEN.match(tok):
            tokens.append(tok)
    return tokens


# Question frames, cut out before segmentation so they do not glue onto topic words
# ("知识产权园有多大面积" must give 园 / 面积, not 园有 / 大面积).
QUESTION_FRAMES = re.compile(
    r"有多少|是多少|有多大|有多长|有多高|多大|多长|多高|多久|多少|有几|几个|几家|几项|几件|几位|几名|"
    r"什么时候|啥时候|什么|怎么样|怎么|如何|哪些|哪个|哪家|哪里|在哪儿|在哪|是否|能不能|能否|有没有|可不可以|吗|呢|么"
)


def content_terms(text: str, phrases: Iterable[str] = ()) -> list[str]:
    """Distinct topical terms of a question (jieba precise mode), for coverage checks.

    ``phrases`` (everyday words the lexicon knows) stay whole: jieba cuts 刷单刷好评 into
    刷 / 单刷 / 好评, and no term would carry 刷单's statutory terms."""
    jieba = get_jieba()
    norm = QUESTION_FRAMES.sub(" ", to_simplified(text).lower())
    # phrases that overlap (卖盗版 and 盗版书 in 卖盗版书) stay whole together: cutting at one
    # leaves a lone character for jieba to glue to the next word (书会)
    spans: list[list[int]] = []
    for start, end in sorted((m.start(), m.start() + len(p)) for p in {p for p in phrases if len(p) >= 2}
                             for m in re.finditer(re.escape(p), norm)):
        if spans and start < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    tokens, at = [], 0
    for start, end in spans:
        tokens += [*jieba.lcut(norm[at:start]), norm[start:end]]
        at = end
    tokens += jieba.lcut(norm[at:])
    seen: dict[str, None] = {}
    for tok in tokens:
        tok = tok.strip()
        if tok and tok not in STOPWORDS and not _PUNCT_TOKEN.match(tok):
            seen.setdefault(tok, None)
    return list(seen)


def term_weight(term: str) -> float:
    """Longer terms are more specific; numbers (years, amounts) must match exactly, so count double."""
    return len(term) * (2.0 if any(ch.isdigit() for ch in term) else 1.0)


def coverage(terms: list[str], normalised_text: str, aliases: dict[str, tuple[str, ...]] | None = None,
             rarity: dict[str, float] | None = None) -> float:
    """Weighted share of the question's terms that occur in a passage (in match form); a
    term also counts as present through one of its ``aliases`` (版权 -> 著作权), and mostly
    through its parts in another order (注册商标 in "申请商标注册"). ``rarity`` multiplies a
    term's weight (a word in every passage of a law says little about which one answers)."""
    rarity = rarity or {}
    weights = {t: term_weight(t) * rarity.get(t, 1.0) for t in terms}
    total = sum(weights.values())
    if not total:
        return 0.0
    aliases = aliases or {}
    found = 0.0
    for t in terms:
        if t in normalised_text or any(occurs(a, normalised_text) for a in aliases.get(t, ())):
            found += weights[t]
        elif (parts := term_parts(t)) and parts_together(parts, normalised_text, len(t) + 4):
            found += COMPOUND_CREDIT * weights[t]
    return found / total


COMPOUND_CREDIT = 0.75


def occurs(term: str, text: str) -> bool:
    """Whether ``term`` is in ``text``; a figure only as a whole number (3年 is not in 2023年)."""
    if term[:1].isdigit():
        return re.search(rf"(?<![0-9.]){re.escape(term)}", text) is not None
    return term in text


def parts_together(parts: tuple[str, ...], text: str, window: int) -> bool:
    """Whether all ``parts`` occur within ``window`` characters of one occurrence of the first
    (商标申请注册 has 注册商标's parts; 保护 … 专利大数据中心 far apart has not 保护中心's)."""
    first, rest = parts[0], parts[1:]
    if not all(p in text for p in parts):
        return False
    start = text.find(first)
    while start >= 0:
        near = text[max(0, start - window) : start + len(first) + window]
        if all(p in near for p in rest):
            return True
        start = text.find(first, start + 1)
    return False


@functools.lru_cache(maxsize=4096)
def term_parts(term: str) -> tuple[str, ...]:
    """The words a compound term is made of (注册商标 -> 注册, 商标), or () when it is one word."""
    if len(term) < 4 or any(ch.isdigit() for ch in term):
        return ()
    words = [w for w in get_jieba().cut_for_search(term) if len(w) >= 2 and w != term]
    covered = set()
    for w in words:
        start = term.find(w)
        covered.update(range(start, start + len(w)))
    return tuple(words) if len(covered) == len(term) else ()


# a Chinese numeral starts with a digit word: 十五, 二十, 一百 (a bare 万 of "万元" is a unit, not a number)
_CN_NUM = "[一二三四五六七八九十两半][零一二三四五六七八九十百千万两]*"
FIGURE = re.compile(
    r"(?:不得超过|不得少于|不得低于|约|超过?|突破|近|达到?|不超过|最高|不低于|不少于)?(?:"
    r"(?:\d[\d,，.]*余?|" + _CN_NUM + r")\s*(?:万|亿|千|百)?\s*"
    r"(?:个工作日|工作日|个月|个小时|小时|分钟|秒|周年|周|年|元|件|家|项|个|笔|人|位|次|名|篇|倍|届|月|日|天|单|平方米|亿元|万元|%|％|件次|家\(次\)|家（次）)"
    r"|百分之(?:\d[\d.]*|" + _CN_NUM + r"))"  # the laws write a share as 百分之二十
)


# units people and the laws write differently: 几天 is answered by 三十日, 多少比例 by 百分之二十
_SAME_UNIT = {"天": ("日",), "日": ("天",), "%": ("％", "百分之"), "％": ("%", "百分之")}


def in_unit(figure: str, unit: str) -> bool:
    """Whether a figure (a FIGURE match) is in ``unit``: 百分之二十 is in %, 三十日 in 天."""
    return any(u in figure for u in (unit, *_SAME_UNIT.get(unit, ())))


# a sum of money the law states as a share of another (加收当年全额年费的5%, 不少于50%的补偿费,
# 营业利润中提取不低于2%): asked what part one gets or pays extra (能分多少, 要多交多少), the share
# is the answer; asked what the sum itself is (年费多少钱), it is not
_MONEY_NOUN = r"(?:费|金|款|额|报酬|收入|利润|价款|所得)"
_SHARE_OF_MONEY_BEFORE = re.compile(_MONEY_NOUN + r"[^，,。；;]{0,4}?(?:的|中提取|提取)?(?:不低于|不少于|不超过|不高于)?$")
_SHARE_OF_MONEY_AFTER = re.compile(r"的?[^，,。；;]{0,6}?" + _MONEY_NOUN)


def in_unit_at(text: str, m: re.Match, unit: str, shares: bool = False) -> bool:
    """Whether the figure ``m`` of ``text`` (simplified) is in ``unit``; with ``shares``, a share
    of a sum of money counts as an amount of money."""
    if in_unit(m.group(), unit):
        return True
    return shares and unit == "元" and in_unit(m.group(), "%") and bool(
        _SHARE_OF_MONEY_BEFORE.search(text, 0, m.start()) or _SHARE_OF_MONEY_AFTER.match(text, m.end()))


# a prison term, a fine or damages (三年以下有期徒刑, 五万元以下的罚款, 五百万元以下的赔偿) say what
# befalls an offender: each answers only a question about that (判几年, 罚多少, 赔多少), not how long
# a right lasts, what a fee costs, or another of the three
PENALTIES = frozenset({"prison", "fine", "damages"})
_PENALTY_AFTER = re.compile(r"[^，,。；;：:]{0,16}?(有期徒刑|拘役|罚款|罚金|赔偿)")
_PENALTY_KIND = {"有期徒刑": "prison", "拘役": "prison", "罚款": "fine", "罚金": "fine", "赔偿": "damages"}


def figures(text: str, penalties: frozenset[str] = PENALTIES) -> list[re.Match]:
    """The FIGURE matches of ``text`` (simplified), without the prison terms, fines or damages
    the question does not ask about (``penalties``: the kinds it does)."""
    def asked(m: re.Match) -> bool:
        after = _PENALTY_AFTER.match(text, m.end())
        return not after or _PENALTY_KIND[after.group(1)] in penalties

    return [m for m in FIGURE.finditer(text) if asked(m)]


def has_figure(text: str, unit: str, penalties: frozenset[str] = PENALTIES, shares: bool = False) -> bool:
    """Whether ``text`` (simplified) states an amount in ``unit`` (年, 元, 家...)."""
    return any(in_unit_at(text, m, unit, shares) for m in figures(text, penalties))


DURATION = re.compile(r"(?:年|月|日|天|周|小时|分钟|秒)$")  # a FIGURE that is a length of time


def has_answer_figure(text: str, unit: str, duration: bool, penalties: frozenset[str] = PENALTIES) -> bool:
    """Whether ``text`` (simplified) states what a 多少/多久 question asks for: an amount in
    its ``unit``, or, asked 多久 in no unit, a length of time (十五日, 三个月)."""
    if unit:
        return has_figure(text, unit, penalties)
    return duration and any(DURATION.search(m.group()) for m in figures(text, penalties))


NOUN_FLAGS = ("n", "eng", "l", "j")


def is_noun(term: str) -> bool:
    """Whether jieba's dictionary tags ``term`` as a noun (domain words count as nouns)."""
    import jieba.posseg as pseg

    get_jieba()
    if term in DOMAIN_WORDS:
        return True
    tag = pseg.dt.word_tag_tab.get(term)
    if tag is None:
        tags = [w.flag for w in pseg.lcut(term)]
        return bool(tags) and all(t.startswith(NOUN_FLAGS) for t in tags)
    return tag.startswith(NOUN_FLAGS)


def phrase_share(terms: list[str], normalised_text: str, question: str = "") -> float:
    """Share of neighbouring question terms that also stand side by side in the passage
    ("在孵" + "企业" as "在孵企业"): a phrase match, not just shared words. With the
    ``question`` (match form), only terms side by side in it count as neighbours: 烟台 and 孵 in
    烟台在孵企业 are not (a stopword stood between them)."""
    pairs = [(a, b) for a, b in zip(terms, terms[1:]) if not question or a + b in question]
    if not pairs:
        return 0.0
    return sum(a + b in normalised_text for a, b in pairs) / len(pairs)
