"""Statute structure: articles (条), their paragraphs (款) and items (项), chapter paths,
version metadata and article references.

Laws, regulations and judicial interpretations are cited by article, so they are cut one
article per passage instead of by length. Everything here is pure text logic: the cleaned
document text goes in, spans and metadata come out.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from .text import to_simplified

_NUM = "零〇一二两三四五六七八九十百千0-9０-９"
# traditional script (第五十條, 第二節) and the spaces PDF text puts in (第 50 条) mark articles too
_SP = r"[\s\u3000]*"
ARTICLE_START = re.compile(rf"^第{_SP}([{_NUM}]+){_SP}[条條](?:之([一二三四五六七八九十]+))?")
HEADING = re.compile(rf"^第{_SP}([{_NUM}]+){_SP}(编|編|分编|分編|章|节|節)(?:{_SP})(\S.{{0,40}})?$")
_LEVELS = ("编", "分编", "章", "节")
_BARE_HEADINGS = re.compile(rf"^([总總]{_SP}[则則]|附{_SP}[则則]|分{_SP}[则則])$")
# an attachment after the articles (附件1：申请表) is no part of the last article
_ATTACHMENT = re.compile(rf"^附{_SP}[件表]{_SP}[0-9０-９一二三四五六七八九十]*{_SP}(?:[：:]|$|\s)")
ITEM_START = re.compile(r"^[（(]([一二三四五六七八九十]+)[）)]")
FULL_DATE = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_FILE_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)")
_END = "。；;：:！？"

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}


def cn_number(text: str) -> int:
    """``五十`` -> 50, ``一百零二`` -> 102, ``86`` -> 86 (0 when unreadable)."""
    text = unicodedata.normalize("NFKC", text)
    if text.isdigit():
        return int(text)
    total, digit = 0, 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _UNITS:
            total += (digit or 1) * _UNITS[ch]
            digit = 0
        else:
            return 0
    return total + digit


def cn_numeral(n: int) -> str:
    """50 -> ``五十``, 102 -> ``一百零二``, 10 -> ``十`` (as articles are numbered)."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    if n < 100:
        return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")
    if n < 1000:
        rest = n % 100
        tail = "" if not rest else ("零" + cn_numeral(rest) if rest < 10 else (("一" if rest < 20 else "") + cn_numeral(rest)))
        return digits[n // 100] + "百" + tail
    return str(n)


def article_label(number: int, sub: int = 0) -> str:
    return f"第{cn_numeral(number)}条" + (f"之{cn_numeral(sub)}" if sub else "")


@dataclass
class Paragraph:
    start: int
    end: int
    item: int = 0  # 项 number when the paragraph is an enumerated item, else 0


@dataclass
class Article:
    number: int
    sub: int  # 之N
    path: tuple[str, ...]  # enclosing 编/章/节 headings
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def label(self) -> str:
        return article_label(self.number, self.sub)

    @property
    def start(self) -> int:
        return self.paragraphs[0].start

    @property
    def end(self) -> int:
        return self.paragraphs[-1].end


@dataclass
class Piece:
    """One passage of a statute: a whole article, or part of a long one."""

    start: int
    end: int
    article: str  # 第五十条 ("" for the preamble)
    path: str  # 第五章 专利实施的特别许可
    lead: str  # the article's lead sentence when the piece does not start with it


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for part in re.split(r"(\n\s*\n)", text):
        if part.strip() and not re.fullmatch(r"\n\s*\n", part):
            lead = len(part) - len(part.lstrip())
            spans.append((pos + lead, pos + len(part.rstrip())))
        pos += len(part)
    return spans


def is_bare_label(line: str) -> bool:
    """第一条 (or 第 5 条) alone on its line, its text on the next, as some sites lay laws out."""
    m = ARTICLE_START.match(line.strip())
    return bool(m) and m.end() == len(line.strip())


def numbers_of(m: re.Match) -> tuple[int, int]:
    """(number, 之N) of an article label matched as 第(N)条(之(M))."""
    return cn_number(m.group(1)), cn_number(m.group(2)) if m.group(2) else 0


def article_number(line: str) -> tuple[int, int] | None:
    """(number, 之N) of the article ``line`` starts, or None."""
    m = ARTICLE_START.match(line.strip())
    return numbers_of(m) if m and cn_number(m.group(1)) else None


def next_article(previous: tuple[int, int] | None, number: tuple[int, int]) -> bool:
    """Whether article ``number`` comes next after ``previous`` (None: no article yet): a line
    opening with another number is a cross-reference cut at its start (依照本法 / 第十条规定的)."""
    if previous is None:
        return True
    return number == (previous[0] + 1, 0) or (number[0] == previous[0] and number[1] > previous[1])


def is_heading(line: str) -> bool:
    line = line.strip()
    if len(line) > 40 or (line and line[-1] in _END):
        return False
    return bool(HEADING.match(line) or _BARE_HEADINGS.match(line))


_CONTENTS = re.compile(rf"^目{_SP}[录錄次]$")
_BULLET = re.compile(r"^[-*+•·]\s*")  # - 第一章 总则, a Markdown list of links
_PAGE_REF = re.compile(r"[\s\u3000.…·．]*[0-9０-９]*$")  # 第一章 总则 ……… 1


def contents_end(paragraphs: list[str]) -> int:
    """How many paragraphs at the start of ``paragraphs`` are a table of contents (目录, then the
    chapter headings it lists), or 0: listed before the body, its headings would be read as empty
    chapters and the body's own headings as repeats."""
    if not paragraphs or not _CONTENTS.match(paragraphs[0].strip()):
        return 0
    entries: list[str] = []
    for para in paragraphs[1:]:
        entry = re.sub(r"[\s\u3000]+", "", _PAGE_REF.sub("", _BULLET.sub("", para.strip())))
        if not entry or not is_heading(entry) or entry == (entries or [""])[0]:  # the body starts (its first chapter again)
            break
        entries.append(entry)
    return 1 + len(entries) if len(entries) >= 2 else 0


def parse_articles(text: str) -> list[Article]:
    """Articles in document order, each with its heading path and paragraph spans.

    A heading ends the article before it; paragraphs that follow an article belong to it
    (its further 款 and its 项) until the next article or heading.
    """
    headings: list[tuple[str, str]] = []  # (level, text)
    articles: list[Article] = []
    current: Article | None = None
    for start, end in _paragraph_spans(text):
        line = text[start:end]
        if is_heading(line):
            m = HEADING.match(line.strip())
            level = to_simplified(m.group(2)) if m else "章"
            rank = _LEVELS.index(level)
            headings = [h for h in headings if _LEVELS.index(h[0]) < rank]
            headings.append((level, re.sub(r"[\s\u3000]+", " ", line.strip())))
            current = None
            continue
        if _ATTACHMENT.match(line):
            current = None
            continue
        m = ARTICLE_START.match(line)
        if m and cn_number(m.group(1)) and not _cites_out_of_order(current, line, m):
            current = Article(*numbers_of(m), tuple(h[1] for h in headings), [Paragraph(start, end)])
            articles.append(current)
        elif current is not None:
            item = ITEM_START.match(line)
            current.paragraphs.append(Paragraph(start, end, cn_number(item.group(1)) if item else 0))
    return articles


# what follows an article number cited, not an article's label: 第十条规定的 / 第十条所称 / 第十条、第十一条
_CITING = re.compile(rf"[\s\u3000]*(?:规定|所称|所列|的规定|[、和及或至]|第{_SP}[{_NUM}]+{_SP}[款项])")


def _cites_out_of_order(current: Article | None, line: str, m: re.Match) -> bool:
    """A paragraph of ``current`` that opens with a cross-reference (a hard wrap before 第十条规定的…):
    the number is not the next article's and what follows it cites rather than states."""
    return (current is not None and not next_article((current.number, current.sub), numbers_of(m))
            and bool(_CITING.match(line, m.end())))


def is_statute(text: str, min_articles: int = 3, articles: list[Article] | None = None) -> bool:
    """Statute-shaped: most of the body is 第N条 articles, numbered upwards from the first
    (``articles``: :func:`parse_articles` of ``text``, when the caller has it already)."""
    articles = parse_articles(text) if articles is None else articles
    if len(articles) < min_articles:
        return False
    covered = sum(a.end - a.start for a in articles)
    ordered = sum(b.number >= a.number for a, b in zip(articles, articles[1:]))
    if ordered < 0.8 * (len(articles) - 1):
        return False
    # a notice carrying rules may open with a long preamble: then the rules must be most of
    # what follows it, and more than a few articles quoted at the end of a report
    body = len(text[articles[0].start:].strip())
    return covered >= 0.5 * len(text.strip()) or (len(articles) >= 6 and covered >= 0.8 * body)


def first_sentence(text: str) -> str:
    m = re.match(r"[^。；：:]*[。；：:]", text)
    return (m.group(0) if m else text).strip()


def statute_pieces(text: str, chunk_size: int) -> tuple[list[Piece], list[tuple[int, int]]]:
    """One piece per article; an article longer than ``chunk_size`` is split at 款/项
    boundaries, and every later piece carries the sentence that introduces it.

    Returns the pieces and the spans of text in no article that are more than headings (the
    preamble, an attachment): those are cut like any other text, so nothing is left unindexed.
    """
    articles = parse_articles(text)
    pieces: list[Piece] = []
    for art in articles:
        path = " › ".join(art.path)
        if art.end - art.start <= chunk_size:
            pieces.append(Piece(art.start, art.end, art.label, path, ""))
            continue
        article_lead = first_sentence(strip_label(text[art.start:art.paragraphs[0].end]))
        group: list[Paragraph] = []
        intro, lead = "", ""  # intro: the 款 that introduces the items that follow it
        for para in art.paragraphs:
            if group and para.end - group[0].start > chunk_size:
                pieces.append(Piece(group[0].start, group[-1].end, art.label, path, lead))
                group = []
            if not group:  # a piece that does not open the article says what it continues
                lead = "" if para is art.paragraphs[0] else (intro if para.item and intro else article_lead)
            if not para.item:
                intro = _intro_sentence(strip_label(text[para.start:para.end]))
            group.append(para)
        if group:
            pieces.append(Piece(group[0].start, group[-1].end, art.label, path, lead))
    return pieces, _loose_spans(text, articles)


def _loose_spans(text: str, articles: list[Article]) -> list[tuple[int, int]]:
    """The text before, between and after the articles, where it is more than headings."""
    gaps = zip([0, *(a.end for a in articles)], [*(a.start for a in articles), len(text)])
    return [(s, e) for s, e in gaps
            if any(not is_heading(text[s + a:s + b]) for a, b in _paragraph_spans(text[s:e]))]


def strip_label(text: str) -> str:
    """An article's text without its 第N条 label."""
    return ARTICLE_START.sub("", text, count=1).lstrip(" \u3000")


def list_intro(paragraph: str) -> str:
    """The sentence that introduces a list (it ends the paragraph with a colon), or ""."""
    m = re.search(r"[^。；;]*[：:]\s*$", paragraph)
    return m.group(0).strip() if m else ""


def _intro_sentence(paragraph: str) -> str:
    """The sentence that introduces a list, else the first sentence."""
    return list_intro(paragraph) or first_sentence(paragraph)


# ---------------------------------------------------------------- metadata

_PLACE = re.compile(r"^(.{2,3}?)(省|市|自治区|特别行政区|区|县)")
_NATIONAL_BODIES = ("最高人民法院", "最高人民检察院", "国务院", "全国人民代表大会", "中华人民共和国")
# a notice that carries rules in its title: 青岛市人民政府关于印发《青岛市专利资助办法》的通知
_CARRIED = re.compile(r"(?:印[发發]|[发發][布佈]|公[布佈]|[颁頒][布佈])[“\"]?《([^》]+)》")
# a ministry issuing rules (国家知识产权局令, 商务部关于…): a 部门规章, whatever the rules are called
_MINISTRY = re.compile(r"^(?:国家[^关于]{1,12}?(?:总局|局|署)|[^关于]{1,12}?(?:部|总署))(?:关于|令)")


def carried_title(title: str) -> str:
    """The rules a notice carries (关于印发《青岛市专利资助办法》的通知 -> 青岛市专利资助办法): what
    people name and cite; a title that carries none is itself."""
    m = _CARRIED.search(title)
    return m.group(1) if m else title


def _issuer_and_law(title: str) -> tuple[str, str]:
    """Who issues and what is issued: the notice's issuer and the title it carries, or the
    plain title twice."""
    t = re.sub(r"\s+", "", to_simplified(title))
    m = _CARRIED.search(t)
    return (t[: m.start()], m.group(1)) if m else (t, t)


def _place_named(names: tuple[str, ...]) -> str:
    for name in names:
        m = _PLACE.match(name)
        if m and not name.startswith(_NATIONAL_BODIES):
            return m.group(1)
    return ""


def doc_type_of(title: str) -> str:
    """法律 / 行政法规 / 司法解释 / 地方性法规 / 部门规章, from the title's form (of the rules a
    notice carries, 关于印发《…办法》的通知, and of who issues them)."""
    issuer, law = _issuer_and_law(title)
    if issuer.startswith(("最高人民法院", "最高人民检察院")) or law.startswith(("最高人民法院", "最高人民检察院")):
        return "司法解释"
    if _place_named((issuer, law)):
        return "地方性法规"
    if _MINISTRY.match(issuer):
        return "部门规章"
    if law.startswith("全国人民代表大会") or (law.startswith("中华人民共和国") and law.endswith("法") and not law.endswith("办法")):
        return "法律"
    if law.endswith("办法") and not law.startswith("国务院"):
        return "部门规章"
    return "行政法规"


_LEGAL_FORM = re.compile(r"(?:法|条例|规定|办法|细则|解释|决定|批复)(?:[（(][^）)]*[）)])?$")


def is_legal_title(title: str) -> bool:
    """A law, regulation or interpretation by its title, even when its body is not 第N条
    articles (an amendment decision's numbered edits, a 批复's letter): it still has a place
    in the legal hierarchy."""
    return re.sub(r"\s+", "", to_simplified(title)).startswith(("最高人民法院", "最高人民检察院")) or named_as_law(title)


_TITLE_MAX = 60


def _title_line(paragraph: str) -> bool:
    """A line that may be (part of) a title: short, no sentence or clause punctuation, no date."""
    p = paragraph.strip()
    return 0 < len(p) <= _TITLE_MAX and not re.search(r"[。，；：:,;]", p) and not FULL_DATE.search(p) and not is_heading(p)


def named_as_law(title: str) -> bool:
    """Whether ``title`` ends as laws are named (…法, …条例, …的解释（二）)."""
    return bool(_LEGAL_FORM.search(re.sub(r"\s+", "", to_simplified(title))))


def statute_title(preamble: str) -> str:
    """The law's own title in the text before its first article, "" when none is found: the first
    title-like line ending as laws are named (…条例, …的解释), joined with the line before when a
    long title is broken over two (最高人民法院关于审理…案件 / 适用法律若干问题的解释). A promulgation
    order before it (中华人民共和国国务院令 第706号 … 总理 李强) is passed over."""
    paragraphs = [p.strip() for p in preamble.split("\n\n")]
    for i, para in enumerate(paragraphs):
        if not _title_line(para) or not named_as_law(para):
            continue
        before = paragraphs[i - 1] if i else ""
        joined = before + para
        if before and _title_line(before) and not named_as_law(before) and len(joined) <= _TITLE_MAX \
                and re.search(r"关于|[省市县区]|中华人民共和国|最高人民", before):
            return joined
        return para
    return ""


def region_of(title: str) -> str:
    """The province, city or district a local regulation's title (or its issuer) names, else 全国."""
    return _place_named(_issuer_and_law(title)) or "全国"


def _iso(m: re.Match) -> str:
    y, mo, d = (int(g) for g in m.groups())
    return f"{y:04d}-{mo:02d}-{d:02d}"


def version_dates(text: str, path: str = "", articles: list[Article] | None = None) -> tuple[str, str]:
    """(version date, effective date) of a statute.

    The version date is the date in the file name when there is one, else the latest
    adoption/amendment date before the first article (a government site puts the whole history
    in one parenthesised line: every date in it counts); the effective date is a date followed
    by 施行 there (2024年1月20日 施行, 自2024年1月20日起施行), else the in-force article's.
    """
    articles = parse_articles(text) if articles is None else articles
    preamble = text[: articles[0].start] if articles else text[:2000]
    version, effective = "", ""
    for m in FULL_DATE.finditer(preamble):
        if _TAKES_EFFECT.match(preamble, m.end()) or _EFFECTIVE_LABEL.search(preamble, max(0, m.start() - 12), m.start()):
            # the law's own: a history line, or the order that publishes it (现予公布，自…起施行),
            # not a preamble's account of another law (商标法修改决定…自2001年12月1日起施行)
            line = _line_at(preamble, m.start())
            if len(line) < 40 or _ORDER_PUBLISHES.search(line):
                effective = max(effective, _iso(m))
        else:
            version = max(version, _iso(m))
    amended = any(word in preamble for word in ("修正", "修订", "修改"))
    version = file_date(path) or version
    if not effective:
        # "本法自…起施行" in the last articles: the original date, so only when this version is not newer
        body = text[len(preamble):]
        m = re.search(r"自((?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)起施行", body)
        found = date_in(m.group(1)) if m else ""
        effective = found if found >= version else ""
        if not m and not amended and _FROM_PUBLICATION.search(body):  # the first text is in force when published
            effective = version
    return version or effective, effective


def _line_at(text: str, pos: int) -> str:
    return text[text.rfind("\n", 0, pos) + 1:].split("\n", 1)[0].strip()


_ORDER_PUBLISHES = re.compile(r"现(?:予|将[^。]{0,60}?)(?:公布|发布|印发|颁布)")  # 现将修订后的《…》公布
_TAKES_EFFECT = re.compile(r"[ \t\u3000]*起?[ \t\u3000]*(?:施行|生效)")
_EFFECTIVE_LABEL = re.compile(r"(?:施行|生效|实施)(?:日期|时间)[ \t\u3000]*[:：]?[ \t\u3000]*$")  # 施行日期：2024年1月20日
# 本法自公布之日起施行 / 本办法自发布之日起施行: in force on the day the text is published
_FROM_PUBLICATION = re.compile(r"本(?:法|条例|细则|规定|办法|决定|解释)自(?:公布|发布|颁布|印发)之日起(?:施行|生效)")


# where a one-line history (（1984年3月12日…通过　根据1992年9月4日…修正）) passes to its next event
_NEXT_EVENT = re.compile(r"[ \t\u3000]+(?=(?:根据)?(?:19|20)\d{2}\s*年)")


def history_lines(preamble: str) -> list[str]:
    """The dated lines before a statute's first article (通过, 修正, 公布…), oldest first; a
    history written in one parenthesised line gives one line per event."""
    lines = [event.strip(" \t\u3000（()）") for line in preamble.splitlines() for event in _NEXT_EVENT.split(line)]
    return [line for line in lines if FULL_DATE.match(line, 2 if line.startswith("根据") else 0) and len(line) < 200]


IN_FORCE = re.compile(r"本(?:法|条例|细则|规定|办法|决定|解释)自[^。；]{0,30}?起(?:施行|生效)[^。]*。?")


def date_in(text: str) -> str:
    """The first full date in ``text``, as 2020-10-17 ("" when there is none)."""
    m = FULL_DATE.search(text)
    return _iso(m) if m else ""


def chinese_date(iso: str) -> str:
    """2021-06-01 -> 2021年6月1日, as the laws write dates."""
    y, m, d = iso.split("-")
    return f"{int(y)}年{int(m)}月{int(d)}日"


def file_date(path: str) -> str:
    """The version date a file name carries: ``专利法(2020-10-17).md`` -> 2020-10-17."""
    m = _FILE_DATE.search(path or "")
    return m.group(1) if m else ""


def version_key(title: str) -> str:
    """Titles equal up to script, dates, parenthesised years and spacing name versions of one law."""
    t = to_simplified(unicodedata.normalize("NFKC", title))
    t = re.sub(r"[(（][^()（）]*\d{4}[^()（）]*[)）]", "", t)
    t = re.sub(r"[\s、，,·]+", "", t)
    return t


def book_title(title: str) -> str:
    """A title in 书名号, as citations write it: 《中华人民共和国专利法》; a notice's articles are
    those of the rules it carries (《青岛市专利资助办法》第五条)."""
    title = carried_title(title)
    return title if title.startswith("《") else f"《{title}》"


def short_title(title: str) -> str:
    """How people name a law: 《中华人民共和国专利法》 -> 专利法 (〈〉 inside a title as 《》)."""
    t = re.sub(r"\s+", "", carried_title(title)).replace("〈", "《").replace("〉", "》").strip("《》")
    return re.sub(r"^中华人民共和国", "", t)


@functools.lru_cache(maxsize=4096)  # asked of every candidate's title on every search
def subject_of(title: str) -> str:
    """What a regulation of its own is about (计算机软件保护条例 -> 计算机软件, 知识产权海关保护条例 ->
    海关), or "" for an implementing regulation, whose subject is its law's."""
    t = version_key(short_title(title))
    if "实施" in t:
        return ""
    about = re.search(r"关于(.+?)的(?:规定|决定|办法)$", t)
    if about:
        return about.group(1)
    t = re.sub(r"^知识产权(?!法)", "", t)
    return re.sub(r"(?:保护)?(?:条例|规定|办法)$", "", t) if re.search(r"(?:条例|规定|办法)$", t) else ""


# the kinds of right a question or an article is about, by the words that name them
_RIGHTS = {
    "专利": ("专利", "发明", "实用新型", "外观设计"),
    "商标": ("商标",),
    "著作权": ("著作权", "版权", "作品", "软件"),
    "植物新品种": ("新品种", "品种权"),
    "布图设计": ("布图设计", "集成电路"),
}


def rights_named(text: str) -> frozenset[str]:
    """The kinds of right ``text`` (simplified) names: 专利, 商标, 著作权..."""
    return frozenset(right for right, words in _RIGHTS.items() if any(w in text for w in words))


# ---------------------------------------------------------------- article references

_REF = re.compile(
    rf"(?:《?([\u4e00-\u9fff]{{0,30}}?(?:法|条例|细则|规定|解释|办法))》?\s*)?第\s*([{_NUM}]+)\s*条(?:之([一二三四五六七八九十]+))?"
    rf"(?:\s*第\s*([{_NUM}]+)\s*款)?(?:\s*第\s*[（(]?([{_NUM}]+)[)）]?\s*项)?"
    rf"|([\u4e00-\u9fff]{{0,30}}?(?:法|条例|细则|规定|解释|办法))\s*([0-9０-９]+)\s*条"
)


# the words before a law's name that are the asker's, not the name's (律师让我看看 / 帮我找找 /
# 我们公司想了解一下): no law's name holds a pronoun or a verb of asking, so the name starts
# after the last of them, and after the verbs that follow a pronoun (我去查查)
_ASKER = re.compile(r"^.*(?:[我你您咱]们?|请问|问一下|了解一下|想知道|想问|告诉|看看|看一下|查查|查一下|找找|找一下|翻翻|翻一下)")
_ASKER_VERBS = re.compile(r"^(?:想|要|去|来|能|再)*(?:了解|知道|看|查|找|翻|读|问)*(?:了|过)?")
_LEAD = re.compile(r"^(?:关于|根据|按照|依照|依据|.*?年版|.*?版)")


@dataclass
class ArticleRef:
    law: str  # as written in the question ("专利法", "实施细则"), may be ""
    number: int
    sub: int = 0
    paragraph: int = 0  # 款
    item: int = 0  # 项

    @property
    def label(self) -> str:
        return article_label(self.number, self.sub)


def article_refs(question: str) -> list[ArticleRef]:
    """Article references in a question: 专利法第五十条, 专利法第50条, 实施细则86条, 商标法第十条第一款."""
    refs = []
    for m in _REF.finditer(unicodedata.normalize("NFKC", question)):
        if m.group(2):
            law, number = m.group(1) or "", cn_number(m.group(2))
            sub = cn_number(m.group(3)) if m.group(3) else 0
            para = cn_number(m.group(4)) if m.group(4) else 0
            item = cn_number(m.group(5)) if m.group(5) else 0
        else:
            law, number, sub, para, item = m.group(6), cn_number(m.group(7)), 0, 0, 0
        asker = _ASKER.match(law)
        if asker:
            law = _ASKER_VERBS.sub("", law[asker.end():])
        law = _LEAD.sub("", law)
        if number:
            refs.append(ArticleRef(law, number, sub, para, item))
    return refs


def with_law(question: str, law: str) -> str:
    """``question`` with ``law`` named before its first article reference that names none
    (那第五十一条呢, after a question on 专利法 -> 那《专利法》第五十一条呢)."""
    text = unicodedata.normalize("NFKC", question)
    for m in _REF.finditer(text):
        if m.group(2) and not m.group(1):
            return f"{text[: m.start()]}《{law}》{text[m.start():]}"
    return question


def without_article_refs(question: str) -> str:
    """``question`` without its article references: the words it asks with."""
    return _REF.sub(" ", unicodedata.normalize("NFKC", question))


# a version of a law asked for by its year: 2010年版实施细则, 2008年那版专利法, 1984年第一版专利法,
# 专利法（2008年修正）
_LAW_RUN = r"《?([\u4e00-\u9fff]{1,30})"
_LAW_END = re.compile(r"(?:法|条例|细则|规定|解释|办法)")
_VERSION_BEFORE = re.compile(
    rf"((?:19|20)\d{{2}})\s*年\s*(?:的|那|那个|这|这个)?\s*(?:第[一二三四五六七八九十]+)?\s*(?:最新|新|老|旧)?"
    rf"(?:(?:修订|修正|修改)(?:后)?的?|版本?的?)?\s*(?:最新|新|老|旧)?(?:版本?的?)?\s*{_LAW_RUN}")
_VERSION_AFTER = re.compile(r"([\u4e00-\u9fff]{1,30}?(?:法|条例|细则|规定|解释|办法))》?\s*[(（]?\s*((?:19|20)\d{2})\s*年\s*(?:版|修订|修正|修改)[)）]?")


def version_requests(question: str) -> list[tuple[tuple[str, ...], str]]:
    """For each law a question asks about in the version of one year: the names it may be
    (longest first: 专利法实施细则里 may name 专利法实施细则 or 专利法; the caller keeps the one
    that fits a law of the corpus) and the year."""
    text = unicodedata.normalize("NFKC", question)
    found = []
    for m in _VERSION_BEFORE.finditer(text):
        run = m.group(2)
        names = tuple(run[: e.end()] for e in reversed(list(_LAW_END.finditer(run))))
        if names:
            found.append((names, m.group(1)))
    found += [((m.group(1),), m.group(2)) for m in _VERSION_AFTER.finditer(text)]
    return list(dict.fromkeys(found))


def without_versions(question: str) -> str:
    """The question with the version it names left out (2010年版专利法实施细则 -> 专利法实施细则): the
    year says which text to read, it is no term to match (the law's history line holds it)."""
    text = _VERSION_AFTER.sub(lambda m: m.group(1), unicodedata.normalize("NFKC", question))
    return _VERSION_BEFORE.sub(lambda m: m.group(2) if _LAW_END.search(m.group(2)) else m.group(0), text)


# a title in 《》 a user names as a law (a company's 《…管理办法》 is not one)
BRACKETED_LAW = re.compile(r"《([^《》]{1,60}?(?:法|法典|条例|细则|规定|解释|公约))》")
# laws people name without brackets that this corpus does not hold: a question about what they
# say cannot be answered from another law (the corpus's own laws are found by find_law)
OTHER_LAWS = frozenset(
    "民法典 民法通则 合同法 公司法 劳动法 劳动合同法 广告法 电子商务法 消费者权益保护法 产品质量法 "
    "促进科技成果转化法 科学技术进步法 网络安全法 数据安全法 个人信息保护法 行政处罚法 行政诉讼法 "
    "民事诉讼法 刑事诉讼法 食品安全法 药品管理法 种子法 农业法 对外贸易法 海关法 税法 企业所得税法 宪法".split()
)


def cited_articles(text: str, law: str) -> list[str]:
    """Labels of the articles of ``law`` (a short title) that ``text`` cites: 专利法第四十二条."""
    return [_label(m) for m in re.finditer(rf"{re.escape(law)}{_ARTICLE_NUMBER.pattern}", text)]


def cites_alone(text: str, law: str, label: str) -> bool:
    """Whether ``text`` cites ``law``'s article ``label`` by itself or with one other: an article
    that lists several (违反商标法第十条、第十一条、第十二条和第十六条第一款) is a procedure for all
    of them, not the rule that implements one."""
    for run in re.finditer(rf"{re.escape(law)}({_ARTICLE_RUN})", text):
        cited = [_label(m) for m in _ARTICLE_NUMBER.finditer(run.group(1))]
        if label in cited and len(cited) <= 2:
            return True
    return False


_ARTICLE_NUMBER = re.compile(rf"第([{_NUM}]+)[条條](?:之([一二三四五六七八九十]+))?")
# articles cited in a row: 第六条、第九条 / 第十条、第十一条、第十二条和第十六条第一款
_ARTICLE_RUN = rf"(?:(?:[、，,和及与或者]|第[{_NUM}]+[款项])*{_ARTICLE_NUMBER.pattern})+"
# the sanction of an act: 违反本条例第二十条规定的… / 违反本法第六条、第九条规定
_VIOLATES = re.compile(rf"违反本(?:法|条例|规定|办法|细则|解释)({_ARTICLE_RUN})")


def _label(m: re.Match) -> str:
    """The label of an article number matched as 第(N)条(之(M))."""
    return article_label(*numbers_of(m))


def sanctioned_articles(text: str) -> list[str]:
    """Labels of the articles of its own law whose breach ``text`` sanctions (违反本法第六条规定的)."""
    return [_label(m) for run in _VIOLATES.finditer(text) for m in _ARTICLE_NUMBER.finditer(run.group(1))]


# what the law does to whoever breaks it, or to the right: 罚款, 责令, 终止, 宣告无效, 承担…责任
_CONSEQUENCE = re.compile(r"罚款|责令|没收|吊销|终止|撤销|宣告[^，。；]{0,6}无效|失效|视为(?:撤回|放弃)|承担[^，。；]{0,8}责任|追究|赔偿"
                         r"|年内不得|不再予以|丧失")  # a time-bound ban (三年内不得申请…) or a right lost


def states_consequence(text: str) -> bool:
    """Whether a passage says what follows from an act (its sanction, or the loss of a right):
    the kind of answer 会怎么样 asks for, as a figure is the kind 多少 asks for."""
    return bool(_CONSEQUENCE.search(text))


def cited_paragraphs(text: str, law: str, label: str) -> set[int]:
    """The 款 of one article that ``text`` cites by number (专利法第四十二条第二款 -> {2})."""
    return {cn_number(m.group(1)) for m in re.finditer(rf"{re.escape(law)}{re.escape(label)}第([{_NUM}]+)款", text)}


def paragraph_at(article_text: str, pos: int) -> int:
    """Which 款 of an article (its passage starting at 第N条) holds offset ``pos``; list items
    belong to the 款 that introduces them. 0 when the passage is a later piece of the article."""
    if not ARTICLE_START.match(article_text.lstrip()):
        return 0
    number = 0
    for start, _ in _paragraph_spans(article_text):
        if start > pos:
            break
        number += not ITEM_START.match(article_text[start:])
    return number


def related_laws(a: str, b: str) -> bool:
    """A law and its implementing regulation (专利法 / 专利法实施细则): one's name holds the other's."""
    x, y = short_title(version_key(a)), short_title(version_key(b))
    return x != y and (x in y or y in x)


def law_matches(ref_law: str, title: str) -> float:
    """How well a law named in a question fits a document title (0 = not at all).

    An exact short title fits best; a shortened name that ends the title (细则 for
    专利法实施细则) fits less, preferring the shortest such title. A name merely contained in
    a title (知识产权法 in 知识产权法庭…规定) does not fit: that law is not in the corpus.
    """
    if not ref_law:
        return 0.0
    want = short_title(version_key(ref_law))
    have = short_title(version_key(title))
    if want == have:
        return 1.0
    if have.endswith(want):
        return 0.5 * len(want) / len(have)
    return 0.0


def supersessions(docs: list[tuple[str, str, str, bool]]) -> dict[str, str]:
    """``{old doc_id: newest doc_id}`` for documents ``(doc_id, title, date, dated_by_name)``
    that are versions of one law; the newest date wins, then a date in the file name."""
    groups: dict[str, list[tuple[str, str, str, bool]]] = {}
    for item in docs:
        groups.setdefault(version_key(item[1]), []).append(item)
    out = {}
    for versions in groups.values():
        if len(versions) < 2:
            continue
        newest = max(versions, key=lambda v: (v[2], v[3], v[0]))
        out.update({v[0]: newest[0] for v in versions if v is not newest})
    return out
