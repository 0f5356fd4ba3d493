"""Understanding a question: what it asks for, which places it names, and follow-ups.

No LLM: jieba's part-of-speech tags and a few patterns say whether a question wants a number,
a date, a list or a condition, and let a follow-up such as "那科信贷呢？" borrow the region
and the question frame of the turn before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lexicon import LAY_TRAPS, aliases_for, lay_terms
from .places import GAZETTEER, REGIONS, enclosing, names_place
from .statute import (BRACKETED_LAW, OTHER_LAWS, ArticleRef, article_refs, cn_number, cn_numeral, rights_named, version_requests,
                      without_article_refs)
from .text import PENALTIES, content_terms, get_jieba, to_simplified, tokenize

_DATE_Q = re.compile(r"什么时候|何时|哪一年|哪年|哪天|几月|几号|日期|什么时间")
_QUANTITY_Q = re.compile(r"多少|几(?!乎)|多大|多高|多长|多久|比例|第几|规模|多少钱|增长了?多少|排名")
_WHERE_Q = re.compile(r"在哪里|在哪儿|在哪(?![些个种几类])|地址|位置|位于哪")  # 在哪些情况下 asks which cases
_DOCNO_Q = re.compile(r"文号|发文字号|文件号|字号是")
# a phone number, mail address or person to ask (打哪个电话问, 联系电话是多少): not a quantity
_CONTACT_Q = re.compile(r"(?:电话|号码|手机号?|邮箱|联系方式)(?:是|号码|多少|呢|[？?]|$)|打(?:哪个|什么|几号)?电话|"
                        r"(?:找谁|联系谁|向谁)(?:咨询|问|联系)|联系人是谁|怎么联系")
# whose a right is (归谁, 算谁的): the article that assigns it, not an organisation's name
_OWNER_Q = re.compile(r"归谁(?!管)|属于谁|算谁的|是谁的[吗呢啊]?[？?。]?$|归属于谁|归(?!还)[^，。？?管]{0,6}还是|谁所有|谁享有"
                      r"|[是算][^，。？?]{0,6}的还是[^，。？?]{1,8}的")  # 是我的还是公司的
# 归法院还是归市场监管局管, 这事归谁管: which authority, not whose right
_AUTHORITY_Q = re.compile(r"归[^，。？?]{0,12}管(?!理)|谁管|负责|受理")
_WHO_Q = re.compile(r"去哪里|向哪里|找哪里|去哪儿|去哪办|哪里办|谁|哪个部门|哪个单位|哪家单位|哪个机构|什么部门|什么单位|发文机关")
_LIST_Q = re.compile(r"哪些|哪几|有什么|有哪|什么奖|包括")
_CONDITION_Q = re.compile(r"能不能|能否|可不可以|是否|有没有|可以.*吗|吗\s*[？?]?\s*$|行不行|符合|(?:会|要|算|是|需|用|该|让|准)不(?:会|要|算|是|需要|用|该|让|准)")
# what a question asks the size of -> the unit its answer carries
ATTRIBUTE_UNITS = {"面积": "平方米", "费用": "元", "费": "元", "奖金": "元", "罚款": "元", "罚多少": "元", "赔多少": "元", "赔偿": "元", "补偿": "元", "金额": "元", "资金": "元", "投资": "元", "钱": "元", "比例": "%", "比重": "%",
                   "增长率": "%", "增幅": "%", "人数": "人"}
_UNIT_AFTER = re.compile(r"(?:多少|几)\s*(个月|个?小时|分钟|秒|周|个|项|家|件|笔|人|位|元|万元|亿元|钱|次|届|名|篇|倍|%|平方米|单|年|日|天)")
# an amount of money asked for anywhere: 多少钱, 交多少 (not 晚交多少个月, 提交多少份)
_MONEY_Q = re.compile(r"多少钱|多少费|多少元|几块钱|多少块|(?:[交付收]|费用?[是要]?)多少(?![个天日年月份次件项倍周人家])"
                      r"|多少(?:保证金|押金|罚款|罚金|补贴|补助|补偿|奖金|奖励|资助|赔偿|违约金|滞纳金|年费)")
_SHARE_Q = re.compile(r"占[^，,。？?]{0,12}?(?:多少|几成|比例|比重)|占比")
_HOW_LONG = re.compile(r"多久|多长|期限|时效|几天|几个月|几年|多少天|多少个月|多少年|哪天|(?:几|多少)个?(?:小时|分钟|秒|周)")
_FOLLOWUP_HEAD = re.compile(r"^(那么?|还有|另外|那个|这个|它的?|其中|同样|再问一下)")
_FOLLOWUP_TAIL = re.compile(r"(呢|怎么样|如何|又是多少|是多少|多少)?\s*[？?。!！]*\s*$")
_TIME_TERM = re.compile(r"^(\d{4}年?|今年|去年|前年|明年|上半年|下半年|前三季度|全年)$")
# the term a question asks to have defined: 什么是职务作品 / 职务作品是指什么 / 短视频构成作品吗 /
# 什么样的作品受保护; the law's definition (本法所称的作品，是指…) answers all of them
_DEFINE_Q = (
    # a quoted word asked about: 这也算法律保护的“装潢”吗
    re.compile(r"(?:是|算|属于|构成)[^，,。？?！!]{0,12}[“\"「『]([^”\"」』]{2,8})[”\"」』]吗"),
    re.compile(r"(?:什么是|什么叫|何为|何谓)([^，,。？?！!、的是]{2,10})"),
    # 什么样的东西才算是作品: the term is what it must count as, not 东西
    re.compile(r"什么样的[^，,。？?！!]{1,8}?(?:才|就)?(?:算是?|属于|构成)([^，,。？?！!、的]{2,8})(?:吗|[？?。]|$)"),
    re.compile(r"什么样的([^，,。？?！!、的是]{2,8}?)(?:才|会|能|可以|受|被|[，,。？?]|$)"),
    re.compile(r"([^，,。？?！!、是的]{2,10}?)(?:是什么|是指什么|指的是什么|指的是啥|指什么|指啥|是啥|什么意思|啥意思|的定义|的含义)(?!时候|时间)"),
    re.compile(r"(?:是|算|算是|属于|构成|成为)([^，,。？?！!、是算]{2,8}?)吗"),
    re.compile(r"(?:才算|才是|是不是|算不算|属不属于|构不构成)([^，,。？?！!、是算]{2,8}?)(?:吗|[？?。]|$)"),
    # whether an act infringes a right is read from what the right is (署名权，即表明作者身份的权利)
    re.compile(r"(?:侵犯了?|侵害了?)(?:[^，,。？?！!的]{1,6}的)?([^，,。？?！!、的]{2,8}?权)(?:吗|[？?。]|$)"),
)
# what the law does to someone who breaks it, in the question's words or the laws' terms for them
# (会怎样 -> 法律责任, 被罚 -> 行政处罚): answered by the article that sanctions the act
_CONSEQUENCE = re.compile(r"法律责任|罚|责令改正|依法处理|怎么处理|会怎样|会怎么样|后果|追究"
                         r"|会(?:被)?(?:作废|失效|撤销|撤掉|终止|吊销|没收|取消)")  # 专利会作废吗: whether it follows
# which of a prison term, a fine and damages are asked about (判几年, 坐牢吗; 罚多少; 赔多少, 判赔)
_PENALTY_Q = {"prison": re.compile(r"判(?!赔)|刑|坐牢|监狱|拘役|拘留"), "fine": re.compile(r"罚"),
              "damages": re.compile(r"赔|损失")}
# a matter for a court (起诉, 打官司, 判, 惩罚性赔偿, 管辖), unless the asker would rather avoid one
# (不想上法院): the Supreme People's Court's interpretations say how courts decide such matters
_COURT_Q = re.compile(r"法院|起诉|官司|告他|告对方|判|刑事|坐牢|惩罚性|诉讼|管辖")
_NO_COURT = re.compile(r"(?:不想|不愿|不用|不打算|别)(?:上|去|打|走)?(?:法院|官司|诉讼)")
# a part one gets or pays extra is asked (我能分多少, 要多交多少): the law may state it as a share
_PART_Q = re.compile(r"(?:分|多交|多缴|多付|加收|提成|抽成|拿)(?:到|得)?(?:多少|几成)")
_FILLER = re.compile(r"到底|究竟|具体|真的")
# when a law was made, changed or took effect (专利法什么时候施行的, 商标法最近一次修改是哪年):
# the law's history lines and its 施行 article answer, not an article that happens to hold a date
_EVENTS = r"施行|实施|实行|生效|通过|颁布|公布|发布|出台|制定|修改|修订|修正"
_WHEN = r"什么时候|什么时间|何时|哪一?年|哪一?天|几月几[号日]"
TIMES_CHANGED = "修改次数"  # the event asked by 专利法修改过几次
_HISTORY_Q = (
    re.compile(rf"^(?P<subject>.{{2,40}}?)(?:是|于|在|从)?(?:{_WHEN})(?:起|开始)?(?:正式)?(?:开始)?(?P<event>{_EVENTS})"),
    re.compile(rf"^(?P<subject>.{{2,40}}?)(?:是|于|在)?(?:最近一次|最新一次|最后一次|上一次|最近|最新)?(?P<event>{_EVENTS})(?:的)?(?:时间|日期)?(?:是|在|于)?(?:{_WHEN})"),
    # how many times it was changed (专利法修改过几次)
    re.compile(r"^(?P<subject>.{2,40}?)(?:一共|总共|共|先后|已经)?(?P<event>修改|修订|修正)(?:过|了)?(?P<times>几|多少)次"),
)
# what asking for an article's text adds to its number (第五十条的原文, 第五十条规定了什么)
_LOOKUP_WORDS = frozenset("规定 内容 原文 条文 全文 具体 意思".split())
_QUESTION_WORDS = re.compile(r"多少|几|多久|多长|多大|什么时候|哪些|哪几|怎么|怎样|如何|是否|能否|能不能|有没有|什么|谁")


@dataclass
class Question:
    """A question analysed once; retrieval and answering read these fields, not the text."""

    text: str  # as asked (stripped)
    simple: str  # NFKC + simplified script: what matching works on
    terms: list[str]  # topical terms, for coverage
    kind: str  # quantity | date | where | owner | who | docno | contact | list | condition | other
    unit: str
    places: list[str]
    years: list[str]
    refs: list[ArticleRef] = field(default_factory=list)  # 专利法第五十条 ...
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # term -> statutory terms that cover it
    expansion: list[str] = field(default_factory=list)  # statutory terms for the everyday words asked
    defines: str = ""  # the term whose definition answers the question (职务作品)
    laws: list[str] = field(default_factory=list)  # laws named without an article (《促进科技成果转化法》里…)
    statutory: str = ""  # the question in the laws' terms, "" when that changes nothing (see statutory_wording)
    asks_money: bool = False  # an amount of money is asked, by the whole question or one of its asks
    asks_consequence: bool = False  # what happens to whoever does it (会怎样, 会被罚吗)
    court: bool = False  # a matter for a court is asked about (能去法院告吗, 会判刑吗)
    asks_part: bool = False  # a part of a sum is asked (能分多少, 要多交多少): a share of it answers
    penalties: frozenset[str] = frozenset()  # of a prison term, a fine and damages, those asked (判几年, 罚多少, 赔多少; 会怎样: all)
    versions: list[tuple[tuple[str, ...], str]] = field(default_factory=list)  # (names, year): 2010年版实施细则
    attribute: str = ""  # the term whose size is asked (有效期 in 商标注册有效期多久)
    history: tuple[str, str] = ()  # (words naming a law, event): 专利法什么时候施行的 -> ("专利法", "施行")

    @property
    def jurisdictions(self) -> list[str]:
        """The places asked and the regions around them: a rule of any of them governs there
        (山东省专利条例 answers for 济南), while a report's figures count only the place it is about."""
        return list(dict.fromkeys(r for p in self.places for r in (p, *enclosing(p))))

    @property
    def rights(self) -> frozenset[str]:
        """The kinds of right asked about, in the question's words or the laws' (牌子 -> 商标)."""
        return rights_named(" ".join([self.simple, *self.expansion]))

    @property
    def tokens(self) -> list[str]:
        """BM25 tokens of the question, with the statutory terms for its everyday words."""
        return tokenize(" ".join([self.simple, *self.expansion]))

    @property
    def asks_duration(self) -> bool:
        """多久 / 几年 / 期限: a length of time is asked, so a count of anything else (一届, 两件) is no answer."""
        return self.kind == "quantity" and bool(_HOW_LONG.search(self.simple))

    @property
    def names_only_an_article(self) -> bool:
        """Whether the question asks for an article of no law it names (第五十条, 第五十条说的啥):
        many laws have one, and its other words give a search nothing to go on."""
        if not self.refs or any(ref.law for ref in self.refs):
            return False
        rest = content_terms(without_article_refs(self.simple))
        return not [t for t in rest if len(t) >= 2 and t not in _LOOKUP_WORDS]

    def defined_in(self, normalised_text: str) -> bool:
        """Whether a passage (in match form) defines the asked term: 本法所称的作品 / 技术措施，是指 /
        下列作品的含义 / 署名权，即… / …的自然人是作者。"""
        if not self.defines:
            return False
        # the term stands alone: "文字作品，是指" defines 文字作品, not 作品
        t = rf"(?:^|(?<=[\W_的称列])){re.escape(self.defines)}"
        # …，视为…所称图书脱销 / 可以认定为…规定的“装潢”: the law deems what counts as the term
        # (…视为侵犯商业秘密 deems an act an infringement of the term: it does not define the term)
        deemed = rf"(?:视为|认定为)[^。；;，,]{{0,40}}?(?<!侵犯)(?<!侵害)(?<!违反)[“\"]?{re.escape(self.defines)}[”\"]?(?:[。；;，,]|$)"
        return bool(re.search(rf"{t}[，,]?是指|{t}[，,]即|{t}的?含义|[是为]{re.escape(self.defines)}[。，,；;]|{deemed}", normalised_text))


def defined_term(simple: str) -> str:
    """The term a definition question asks about (on the simplified text), or ""."""
    for pattern in _DEFINE_Q:
        m = pattern.search(simple)
        if m and not _QUESTION_WORDS.search(m.group(1)):
            # 驰名商标到底 -> 驰名商标; 老东家的职务发明 -> 职务发明 (the law defines the thing, not whose it is)
            term = _FILLER.sub("", m.group(1)).strip().lower().split("的")[-1]
            if len(term) < 2:
                continue
            # the law defines 实用新型, 外观设计, not 实用新型专利
            return term[:-2] if term.endswith("专利") and len(term) >= 4 else term
    return ""


_PLACE_SUFFIX = ("省", "市", "县", "州", "国", "洲")


# two-character words with a place suffix that name no place (上市 is "listed", 出国 "go abroad")
_NOT_PLACES = frozenset("上市 城市 超市 股市 入市 夜市 集市 中国 外国 回国 建国 出国 各国 全国 祖国 本国 两国 该国 全省 本省 外省 全县".split())


def _place_word(w: str) -> bool:
    return len(w) >= 2 and w.endswith(_PLACE_SUFFIX) and w not in _NOT_PLACES


def places_in(text: str) -> list[str]:
    """Place names in ``text`` (simplified): known regions, the gazetteer, and jieba ``ns``
    words with a place suffix (its bare ``ns`` tag also fires on words like 惠及)."""
    import jieba.posseg as pseg

    get_jieba()
    simple = to_simplified(text)
    found = [key for key in dict.fromkeys((*REGIONS, *GAZETTEER)) if len(key) <= 4 and names_place(key, simple)]
    for word in pseg.lcut(simple):
        w = word.word
        if word.flag == "ns" and _place_word(w) and not any(w in f or f in w for f in found):
            found.append(w)
    return found


def question_kind(text: str) -> str:
    """What ``text`` asks for: docno | contact | date | where | owner | who | list | quantity | condition, or "" when unclear."""
    owner = None if _AUTHORITY_Q.search(text) else _OWNER_Q
    for kind, pattern in (("docno", _DOCNO_Q), ("contact", _CONTACT_Q), ("date", _DATE_Q), ("where", _WHERE_Q), ("owner", owner), ("who", _WHO_Q), ("list", _LIST_Q), ("quantity", _QUANTITY_Q),
                          ("condition", _CONDITION_Q)):
        if pattern and pattern.search(text):
            return kind
    return ""


def asking_clause(simple: str) -> str:
    """The clause that carries the question: the last clause of the first question sentence
    ("带回来几个仿名牌的包自己用，海关会按侵权货物处理吗" asks a yes/no question, not a number;
    "我在网上卖了几百件。被投诉了怎么办" asks what to do: the sentences before it tell the story)."""
    first = re.split(r"[？?]", simple.strip(), maxsplit=1)[0]
    sentence = [s for s in re.split(r"[。！!]", first) if s.strip()] or [first]
    return re.split(r"[，,；;]", sentence[-1])[-1]


# spoken question words and their written forms: the patterns that read what is asked
# (会怎样 asks a consequence, 什么时候 a date) are written once, in the written forms
_SPOKEN = {"咋样": "怎么样", "咋办": "怎么办", "咋": "怎么", "为啥": "为什么", "啥": "什么",
           "多会儿": "什么时候"}
_SPOKEN_RE = re.compile("|".join(sorted(_SPOKEN, key=len, reverse=True)))


def written_form(simple: str) -> str:
    """The question with spoken question words in their written forms (会咋样 -> 会怎么样)."""
    return _SPOKEN_RE.sub(lambda m: _SPOKEN[m.group()], simple)


def analyse(text: str) -> Question:
    """Read a question once: script, terms, what it asks for, places, years, article references."""
    text = (text or "").strip()
    simple = to_simplified(text)
    written = written_form(simple)
    asking = asking_clause(written)
    asked = question_kind(asking)
    kind = asked or question_kind(written) or "other"
    # the unit of the asking clause; another clause's 几个 (印了几个字) is the situation, not the ask
    m = _UNIT_AFTER.search(asking) or (None if asked == "quantity" else _UNIT_AFTER.search(written))
    unit = ""
    if m:
        unit = "元" if m.group(1) in ("钱", "万元", "亿元") else m.group(1).replace("个小时", "小时")
    elif _SHARE_Q.search(asking):  # 占GDP多少 asks a share, not the amount beside it
        unit = "%"
    elif kind == "quantity" and not _HOW_LONG.search(asking):  # 处罚…多久能复议 asks a time, not 元
        unit = _unit_of_head(asking) or _unit_of_head(written)
    years = re.findall(r"(?:19|20)\d{2}(?=年|\D|$)", simple)
    found = lay_terms(simple)
    terms = content_terms(simple, [*found, *_COUNT_IN.findall(simple)])
    expansion = list(dict.fromkeys(a for values in found.values() for a in values if a not in simple))
    aliases = aliases_for(terms, found)
    for term in terms:
        if forms := numeral_forms(term):
            aliases[term] = (*aliases.get(term, ()), *forms)
    # what is asked, in the question's words and the laws' terms for them (会怎样 -> 法律责任)
    worded = " ".join([written, *expansion])
    consequence = bool(_CONSEQUENCE.search(worded))
    return Question(text, simple, terms, kind, unit, places_in(simple), years, article_refs(simple),
                    aliases, expansion, defined_term(simple), law_names(simple),
                    statutory_wording(simple, found),
                    asks_money=(kind == "quantity" and unit == "元") or bool(_MONEY_Q.search(simple)),
                    asks_consequence=consequence,
                    court=bool(_COURT_Q.search(written)) and not _NO_COURT.search(written),
                    asks_part=bool(_PART_Q.search(written)),
                    penalties=PENALTIES if consequence else frozenset(
                        penalty for penalty, pattern in _PENALTY_Q.items() if pattern.search(worded)),
                    versions=version_requests(simple), attribute=asked_attribute(asking, terms) if kind == "quantity" else "",
                    history=history_asked(written))


def history_asked(simple: str) -> tuple[str, str]:
    """``(subject, event)`` when the question asks when something was made, changed or took
    effect; whether the subject names a law is for the corpus to say."""
    for pattern in _HISTORY_Q:
        m = pattern.search(simple.strip())
        if m:
            return m.group("subject"), TIMES_CHANGED if m.groupdict().get("times") else m.group("event")
    return ()


def _unit_of_head(text: str) -> str:
    """The unit of the attribute named last: a noun phrase ends in its head (风险补偿比例 asks a
    比例, not an amount of 补偿)."""
    found = [(text.rfind(attr) + len(attr), unit) for attr, unit in ATTRIBUTE_UNITS.items() if attr in text]
    return max(found)[1] if found else ""


def asked_attribute(asking: str, terms: list[str]) -> str:
    """The term just before a quantity question word (商标注册有效期是多久 -> 有效期): the figure
    asked is the one said of it, not of the question's other terms (期满前十二个月 is said of
    商标注册人, 有效期为十年 of 有效期)."""
    m = _QUANTITY_Q.search(asking)
    if not m:
        return ""
    head = _BEFORE_QUANTITY.sub("", asking[: m.start()])
    return next((t for t in sorted(terms, key=len, reverse=True) if len(t) >= 2 and head.endswith(t)), "")


_BEFORE_QUANTITY = re.compile(r"(?:是|为|有|要|得|能|可以|需要|大概|一般|大约|最少|最多|至少|最长|最高|最低)+$")
_COUNT = re.compile(r"^([0-9]{1,3}|[一二两三四五六七八九十百]{1,4})(年|个月|日|天|倍|次|件|周|小时)$")
# a count in a question, kept one term (jieba cuts 三个月 into 三个 / 月)
_COUNT_IN = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}|[一二两三四五六七八九十百]{1,4})(?:个月|年|日|天|倍|次|周|小时)")


def numeral_forms(term: str) -> tuple[str, ...]:
    """The other ways a count is written (三年: 3年; 两年: 二年, 2年; 30天: 三十日): the laws write
    Chinese numerals, the regulations often Arabic ones, people either."""
    m = _COUNT.match(term)
    n = cn_number(m.group(1)) if m else 0
    if not n:
        return ()
    units = ("日", "天") if m.group(2) in ("日", "天") else (m.group(2),)
    numbers = {str(n), cn_numeral(n)} | ({"两"} if n == 2 else set())
    return tuple(sorted({f"{x}{u}" for x in numbers for u in units} - {term}))


def statutory_wording(simple: str, found: dict[str, tuple[str, ...]]) -> str:
    """The question in the laws' words (外观专利能管多少年 -> 外观设计能期限): the encoder matches an
    article's wording far better than a paraphrase of it. "" when nothing changes."""
    text = simple.lower()  # the table's keys are lower case (app)
    # a lone 批 or 卖 is often part of another word (获批); one pass, so a term put in (电子商务平台)
    # is not itself reworded (平台 -> 网络服务提供者)
    swap = {lay: terms[0] for lay, terms in found.items() if len(lay) > 1 and terms and terms[0] not in text}
    if not swap:
        return ""
    # a key's traps (好几年 for 几年) are tried first and left as they are
    swap |= {trap: trap for lay in list(swap) for trap in LAY_TRAPS.get(lay, ())}
    pattern = "|".join(re.escape(lay) for lay in sorted(swap, key=len, reverse=True))
    out = re.sub(pattern, lambda m: swap[m.group(0)], text)
    return out if out != text else ""


def law_names(simple: str) -> list[str]:
    """Laws a question names without an article: a title in 《》, or one of the laws people name
    bare that the corpus does not hold (民法典里…); a bare word ending in 法 (书法, 疗法) is no law."""
    bare = [name for name in OTHER_LAWS if name in simple and not any(name != o and name in o for o in OTHER_LAWS if o in simple)]
    bracketed = [n for n in BRACKETED_LAW.findall(simple.replace("〈", "《").replace("〉", "》")) if not n.endswith("办法")]
    return list(dict.fromkeys(bracketed + bare))


def sub_questions(text: str) -> list[str]:
    """The asks of a question that asks several ("忘了交年费会怎么样？还有补救的机会吗？"), each
    readable alone: a later ask that names nothing of the first carries the first one whole, since
    "还有补救的机会吗" is about what the first ask names, not only about the situation told before
    it; one that repeats its subject (职务作品的权利归属于谁) stands alone. [] for a single ask."""
    asks = [a.strip(" ，,。；;") for a in re.split(r"[？?]", text) if len(a.strip(" ，,。；;")) >= 4]
    if len(asks) < 2:
        return []
    first = set(content_terms(asks[0]))
    return [asks[0], *(ask if first & set(content_terms(ask)) else f"{asks[0]}，{ask}" for ask in asks[1:])]


def is_followup(question: str) -> bool:
    core = question.strip()
    if _FOLLOWUP_HEAD.match(core) or re.search(r"呢\s*[？?]?\s*$", core):
        return True
    return len(core) <= 8 and len(content_terms(core)) <= 1


def _core(question: str) -> str:
    core = _FOLLOWUP_HEAD.sub("", question.strip())
    return _FOLLOWUP_TAIL.sub("", core).strip()


def resolve_followup(previous: str, question: str) -> str:
    """Rewrite a follow-up into a standalone question using the previous (resolved) one.

    - only places ("烟台呢？"): the previous question with its places swapped;
    - only a time ("那2023年呢？"): the previous question with its time swapped;
    - otherwise ("那科信贷呢？"): the new subject, with the previous question's places and its
      frame (verbs, question words, times) but not its old subject nouns.
    """
    if not is_followup(question):
        return question
    core = _core(question)
    new_terms = content_terms(core)
    if not new_terms:
        return previous
    new_places = places_in(core)
    prev = to_simplified(previous)
    if all(t in new_places for t in new_terms):
        old = places_in(prev)
        if old:
            return re.sub("|".join(map(re.escape, sorted(old, key=len, reverse=True))), new_places[0], prev, count=1)
        return f"{core}{prev}"
    if all(_TIME_TERM.match(t) for t in new_terms):
        swapped, n = re.subn(r"\d{4}年?|今年|去年|前年|明年", core, prev, count=1)
        return swapped if n else f"{core}{prev}"
    import jieba.posseg as pseg

    get_jieba()
    old_places = [] if new_places else places_in(prev)
    # the frame: what the previous turn did and asked (verbs, question words), not its subject
    frame = [w.word for w in pseg.lcut(prev)
             if (w.flag.startswith("v") or _QUESTION_WORDS.search(w.word)) and w.word not in old_places]
    return " ".join([*old_places, core, *frame])


def subject_swapped(previous: str, question: str) -> str:
    """A follow-up that names a new subject ("那实用新型呢" after 外观设计能保护多久), read as the
    previous question with its subject, the first noun that is no place or time, swapped for
    the new one (实用新型能保护多久); "" when the follow-up names only a place or a time."""
    core = _core(question)
    new_terms = content_terms(core)
    if not is_followup(question) or not new_terms or all(t in places_in(core) or _TIME_TERM.match(t) for t in new_terms):
        return ""
    import jieba.posseg as pseg

    get_jieba()
    prev = to_simplified(previous)
    places = places_in(prev)
    subject = next((w.word for w in pseg.lcut(prev) if w.flag[:1] == "n" and w.flag != "ns" and len(w.word) >= 2
                    and w.word not in places and not _TIME_TERM.match(w.word)), "")
    if not subject or subject == core:
        return ""
    # the old subject's measure word is not the new one's (多少个院士工作站 -> 多少高层次人才)
    return re.sub(rf"(多少|几)[个家件项名位所座笔]({re.escape(core)})", r"\1\2", prev.replace(subject, core, 1), count=1)


def with_context(previous: str, question: str) -> str:
    """An implicit follow-up ("一共补了多少钱" after a question on 郑州's loan subsidies) read
    with the previous turn's places and subject nouns in front."""
    import jieba.posseg as pseg

    get_jieba()
    prev = to_simplified(previous)
    places = places_in(prev)
    nouns = [w.word for w in pseg.lcut(prev) if w.flag.startswith(("n", "l", "j", "eng", "vn")) and w.word not in places]
    return " ".join([*places, *nouns, question.strip()])
