"""Reading corpus files into clean documents with metadata.

Real pages arrive with front matter, HTML, Markdown, navigation and page furniture, and with
paragraphs broken by page breaks. Cleaning is pure (:func:`clean_text`, :func:`parse_document`);
file access is confined to :func:`read_file` and :func:`load_corpus`.

Metadata, first match wins per field:
1. YAML front matter at the top of the file (``title``, ``date``, ``source``/``url``, ``region``, ``doc_type``);
2. a sidecar ``NAME.meta.yaml`` next to the file with the same keys;
3. extraction from the text (first heading or line for the title, first date, first URL,
   most-mentioned region), and the file path as the source.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .config import Settings
from .formats import PAGE_MARK, first_line, read_docx, read_pdf, split_pages
from .isolation import IsolatedParser
from .places import guess_region
from .statute import (FULL_DATE, article_number, contents_end, doc_type_of, is_bare_label, is_heading, is_legal_title, is_statute,
                      named_as_law, next_article, parse_articles, region_of, statute_title, version_dates)

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx")
SIDECAR_SUFFIX = ".meta.yaml"
DOC_ID_SCHEME = "path"  # recorded in index manifests: ids are file paths with extension
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FRONT_MATTER_CHARS = 64 * 1024  # a longer "front matter" is treated as text, never parsed
MAX_META_CHARS = 500  # per metadata value; titles are cut shorter (MAX_TITLE_CHARS)
MAX_TITLE_CHARS = 200
META_KEYS = ("title", "date", "source", "url", "link", "region", "doc_type", "type", "effective")



@dataclass
class Document:
    doc_id: str
    title: str
    text: str
    date: str = ""
    source: str = ""
    region: str = ""
    doc_type: str = ""
    path: str = ""
    sha256: str = ""
    extra: dict = field(default_factory=dict)
    effective: str = ""  # date a statute takes effect (施行), when stated
    statute: bool = False  # body is 第N条 articles: cut and cited by article
    superseded_by: str = ""  # doc_id of the newer version of the same law

    def to_dict(self) -> dict:
        return asdict(self)


# one bad file never stops a build: whatever reading it raises, it is skipped with the reason
READ_ERRORS = (Exception,)


class CorpusError(RuntimeError):
    """The corpus as a whole cannot be used (missing, or no readable document)."""


# ---------------------------------------------------------------- decoding

def decode_bytes(raw: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (covers GBK/GB2312), else best guess."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "gb18030":
            log.info("decoded as GB18030")
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None:
        raise UnicodeDecodeError("unknown", raw[:16], 0, 1, "no text encoding fits")
    return str(best)


# ---------------------------------------------------------------- cleaning

_FRONT_MATTER = re.compile(r"\A\ufeff?[ \t\r\n]*---[ \t]*\n(.{0,%d}?)\n---[ \t]*\n" % MAX_FRONT_MATTER_CHARS, re.S)
# Every pattern below runs in linear time: no repetition crosses the character that starts
# another attempt ("<" for tags, "[" for links), so no input makes the engine backtrack.
_BLOCK_TAGS = re.compile(r"(?i)<\s*/?\s*(?:p|br|div|li|ul|ol|h[1-6]|tr|table|section|article|blockquote|hr)\b[^<>]*>")
# a table cell ends: cells stay apart as in Word tables ("崂山区 | 2023 | 150万元", not 2023150万元)
_CELL_END = re.compile(r"(?i)<\s*/\s*t[dh]\s*>")
_DROP_NAMES = ("script", "style", "noscript", "iframe", "head")
_DROP_OPEN = re.compile(r"(?i)<\s*(%s)\b[^<>]*>" % "|".join(_DROP_NAMES))
_DROP_CLOSE = {name: re.compile(r"(?i)<\s*/\s*%s\s*>" % name) for name in _DROP_NAMES}
# a tag opens with a name (or /, !, ?); <中华人民共和国商标法> is a law named in angle brackets
_TAG = re.compile(r"<(?=\s*[/!?A-Za-z])[^<>\n]{0,2000}>")
_ANGLED_NAME = re.compile(r"<([\u4e00-\u9fff][^<>\n]{0,80})>")
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]*\]\([^()\n]*\)")
_MD_LINK = re.compile(r"\[([^\[\]\n]*)\]\([^()\n]*\)")
_AUTOLINK = re.compile(r"<(https?://[^<>\s]+)>")
_URL = re.compile(r"https?://[^\s<>)\]\"'，。]+")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*")
_MD_QUOTE = re.compile(r"^ {0,3}(?:> ?)+(?=[^\s=])")  # > 1984年3月12日 …通过 (a history quoted), not >=
# a web page names itself in its <h1>, or in <title> before the site's name (标题_栏目_网站)
_HTML_H1 = re.compile(r"(?i)<\s*h1\b[^<>]*>((?:[^<]|<(?!\s*/\s*h1)){0,300})<\s*/\s*h1\s*>")
_HTML_TITLE = re.compile(r"(?i)<\s*title\b[^<>]*>([^<]*)<\s*/\s*title\s*>")
_SITE_SUFFIX = re.compile(r"\s*(?:[_|｜—–]|\s-\s).*$")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
# mojibake left where quotation marks were mis-decoded, e.g. "?!苯?" or "?;谋厝贿x"
_MOJIBAKE = re.compile(r"\?[!;][^\s?A-Za-z]{0,8}[?A-Za-z]")
_BOILERPLATE = re.compile(
    r"返回首页|返回.{0,12}新闻|【\s*打印\s*】|【\s*关闭\s*】|免责声明|版权所有|当前位置|您的位置|"
    r"ICP备|ICP证|网站标识码|访问量[:：]|浏览次数|网站地图|联系我们|"
    r"上一篇|下一篇|责任编辑|^来源[:：]|打印本页|关闭窗口|^首页\s*[>＞»›/]|字体[:：]\s*[【\[]?\s*大|分享到[:：]?$|扫一扫.{0,10}手机|^\s*(Top|TOP|top)\s*$|^\s*文章来源|^\s*[（(]文章来源|"
    r"^\S{0,6}\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(\s+\d{1,2}:\d{2}(:\d{2})?)?$|"
    r"^[-—–\s]*(第\s*)?\d{1,4}\s*(页\s*[,，]?\s*(共\s*\d{1,4}\s*页)?|/\s*\d{1,4})?[-—–\s]*$"  # page numbers (第 3 页 共 10 页)
)
_END_PUNCT = "。！？；：…”’」』）)!?;:"
_SENTENCE_BREAK_MIN = 20  # a line this long without final punctuation was cut by a page break


def split_front_matter(text: str) -> tuple[dict, str]:
    """YAML front matter (known keys only, see :func:`safe_meta`) and the body after it."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        meta = load_yaml(m.group(1))
    except yaml.YAMLError as exc:
        log.warning("front matter is not valid YAML (%s); treating it as text", first_line(exc))
        return {}, text
    return meta, text[m.end():]


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors/aliases: ``&a [*a, *a, ...]`` turns 500 bytes into gigabytes."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed", self.peek_event().start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str) -> dict:
    """Metadata from YAML text: aliases refused, only :data:`META_KEYS` with short scalar values."""
    return safe_meta(yaml.load(text, Loader=_NoAliasLoader))  # noqa: S506 - a SafeLoader subclass


def safe_meta(loaded: object) -> dict:
    """Known metadata keys with scalar values as single-line strings of bounded length
    (dates stay dates). Anything else (lists, mappings, unknown keys such as secrets) is dropped."""
    if not isinstance(loaded, dict):
        return {}
    out: dict = {}
    for key in META_KEYS:
        value = loaded.get(key)
        if isinstance(value, (dt.date, dt.datetime)):
            out[key] = value
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            text = " ".join(str(value).split())[:MAX_META_CHARS]
            if text:
                out[key] = text
    return out


def _drop_elements(text: str) -> str:
    """Remove <script>, <style>... elements with their content, in one left-to-right pass.

    An element without a closing tag loses only its opening tag (as before); a closing tag
    found missing once is remembered, so runs of unclosed tags cost linear time."""
    out, pos, no_close_after = [], 0, {}
    while True:
        m = _DROP_OPEN.search(text, pos)
        if not m:
            break
        name = m.group(1).lower()
        close = None if no_close_after.get(name, len(text) + 1) <= m.end() else _DROP_CLOSE[name].search(text, m.end())
        out.append(text[pos:m.start()])
        out.append("\n")
        if close is None:
            no_close_after[name] = m.end()
            pos = m.end()
        else:
            pos = close.end()
    out.append(text[pos:])
    return "".join(out)


def strip_markup(text: str) -> str:
    """HTML and Markdown to plain text, one paragraph per line (linear time on any input)."""
    text = _drop_elements(text)
    text = _CELL_END.sub(" | ", text)
    text = _BLOCK_TAGS.sub("\n", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = angled_names(text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    lines = []
    for line in text.splitlines():
        if "|" in line:  # a table row: one separator between filled cells, none at the ends
            line = " | ".join(cell.strip() for cell in line.split("|") if cell.strip())
        line = _MD_HEADING.sub("", _MD_QUOTE.sub("", line))
        line = _MD_EMPHASIS.sub(r"\2", line)
        lines.append(line)
    return "\n".join(label_table_rows(lines))


_RULE_ROW = re.compile(r"^[\s|:\-—]+$")  # Markdown's |---|:--:| line under a table's header


def label_table_rows(lines: list[str]) -> list[str]:
    """Each cell of a table's row after the first named by its column's header: a row read alone
    ("国内发明专利授权 | 每件3000元 | 30万元") does not say that 30万元 is the yearly cap, so it becomes
    "国内发明专利授权 | 资助标准：每件3000元 | 单个主体年度上限：30万元". A table is a run of rows
    (blank lines between them allowed, as Word's rows are read); its first row is the header."""
    out: list[str] = []
    header: list[str] = []
    for line in lines:
        if not line.strip():
            out.append(line)
            continue
        if "|" in line and _RULE_ROW.match(line):
            continue
        cells = line.split(" | ") if " | " in line else []
        if not cells:
            header = []
        elif not header:
            header = cells
        elif len(cells) == len(header):
            line = " | ".join([cells[0], *(c if c.startswith(h) else f"{h}：{c}" for h, c in zip(header[1:], cells[1:]))])
        out.append(line)
    return out


# a site's contact footer; a notice's own contact sentence (联系人：王女士，联系电话：…。) is content
_CONTACT = re.compile(r"联系电话[:：]|通信地址|邮政编码")


def angled_names(text: str) -> str:
    """A name in ASCII angle brackets, as plain-text laws write a law inside a title
    (《关于修改<中华人民共和国商标法>的决定》), in 〈〉: it is no HTML tag to strip."""
    return _ANGLED_NAME.sub(r"〈\1〉", text)


_BODY_SENTENCE_MIN = 30  # a sentence this long, ended by 。 or ；, is text, whatever words it holds...
_FURNITURE_LEAD = 8  # ...unless a furniture word comes within its first characters


def _furniture_at(line: str, start: int) -> bool:
    """Whether a line holding a furniture word at ``start`` is furniture: furniture opens its line
    (免责声明：…); a long sentence merely naming such a thing is text (专利法实施细则: 其名称或者姓名、
    地址、邮政编码、统一社会信用代码…；), or a hard-wrapped line of it, its clause begun before the word."""
    sentence = line[-1] in "。；;" or "，" in line[:start]
    return not (start >= _FURNITURE_LEAD and len(line) >= _BODY_SENTENCE_MIN and sentence)


def is_boilerplate(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return True
    m = _BOILERPLATE.search(stripped)
    if m:
        return _furniture_at(stripped, m.start())
    # a site's contact footer (联系电话：…), not a notice's contact sentence (…，联系电话：….)
    c = _CONTACT.search(stripped)
    if c and not stripped.endswith("。"):
        return _furniture_at(stripped, c.start())
    return bool(_URL.fullmatch(stripped))


class _Paragraph:
    """A paragraph being assembled from lines; what :func:`_broken_by_page` needs is kept up
    to date, so joining many lines costs linear, not quadratic, time."""

    __slots__ = ("parts", "length", "last", "last_line", "has_clause")

    def __init__(self, line: str) -> None:
        self.parts, self.length, self.last, self.last_line, self.has_clause = [], 0, "", 0, False
        self.add(line)

    def add(self, line: str) -> None:
        self.parts.append(line)
        self.length += len(line)
        self.last = line[-1]
        self.last_line = len(line)
        self.has_clause = self.has_clause or any(c in line for c in "，,。；;")

    def text(self) -> str:
        return "".join(self.parts)


def clean_text(text: str) -> str:
    """Plain paragraphs separated by blank lines: markup, furniture and duplicates removed,
    paragraphs broken by page breaks joined again."""
    text = strip_markup(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _MOJIBAKE.sub("", text)
    paragraphs: list[_Paragraph] = []
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    width = wrap_width(lines)
    last_article: tuple[int, int] | None = None
    for line in lines:
        if line == PAGE_MARK:  # a PDF page ends here: remember where, keep the paragraph open
            if paragraphs:
                paragraphs[-1].parts.append(PAGE_MARK)
            continue
        if is_boilerplate(line):
            continue
        number = article_number(line)
        starts_next = number is not None and next_article(last_article, number)
        if paragraphs and len(paragraphs[-1].parts) == 1 and is_bare_label(paragraphs[-1].parts[0]):  # 第一条 alone
            paragraphs[-1].add(" " + line)
        elif paragraphs and not starts_next and (_broken_by_page(paragraphs[-1], line) or _wrapped(paragraphs[-1], line, width)):
            paragraphs[-1].add(line)
        else:
            paragraphs.append(_Paragraph(line))
            last_article = number if starts_next else last_article
    texts = [para.text() for para in paragraphs]
    texts = _without_contents(texts)
    seen: set[str] = set()
    unique = []
    for p in texts:
        key = _SPACES.sub("", p)
        if len(key) >= _SENTENCE_BREAK_MIN and key in seen and not is_heading(p):  # a heading may recur
            continue
        seen.add(key)
        unique.append(p)
    return "\n\n".join(unique)


_SPACES = re.compile(r"\s+")


def _without_contents(paragraphs: list[str]) -> list[str]:
    """The paragraphs without a law's table of contents (see :func:`contents_end`)."""
    for i, para in enumerate(paragraphs):
        if len(para) <= 4:  # 目录, 目 录: only a short paragraph can open one
            n = contents_end(paragraphs[i:i + 200])
            if n:
                return paragraphs[:i] + paragraphs[i + n:]
    return paragraphs


def _broken_by_page(prev: _Paragraph, line: str) -> bool:
    """A body paragraph (long, with clause punctuation) that stops mid-sentence, followed by a
    line that starts mid-sentence: the two halves of one sentence split by a page break.
    Headings and titles have no clause punctuation, so they are never glued to the next line."""
    if not line:
        return False
    open_clause = prev.last in "，、,（("  # a line ending on a comma always continues
    if not open_clause and (prev.length < _SENTENCE_BREAK_MIN or prev.last in _END_PUNCT or not prev.has_clause):
        return False
    return ("\u4e00" <= line[0] <= "\u9fff") or line[0].isdigit() or line[0] in "，、）)%。；：:;"


_WRAP_MIN = 10  # lines shorter than this say nothing about a wrap width
_WRAP_WIDTH_MIN = 20  # a list of names of one length (企业名单) is no wrapped text


def wrap_width(lines: list[str]) -> int:
    """The width a text was hard-wrapped at (a .txt with every line cut at 35 characters, mid
    sentence), or 0: most long lines are that long, hardly any longer."""
    lengths = [len(line) for line in lines if len(line) >= _WRAP_MIN]
    if len(lengths) < 8:
        return 0
    width = Counter(lengths).most_common(1)[0][0]
    full = sum(abs(n - width) <= 1 for n in lengths)
    longer = sum(n > width + 1 for n in lengths)
    wrapped = width >= _WRAP_WIDTH_MIN and full >= 0.3 * len(lengths) and longer <= 0.05 * len(lengths)
    return width + 1 if wrapped else 0


def _wrapped(prev: _Paragraph, line: str, width: int) -> bool:
    """In hard-wrapped text, a full line that does not end a sentence goes on in the next, even
    when that starts like an article out of order (依照本法 / 第十条规定的); a heading starts afresh."""
    history = FULL_DATE.match(line) and FULL_DATE.match(prev.parts[0])  # 1993年2月22日 …修正 after 1982年…通过
    return bool(width) and prev.last_line >= width - 2 and prev.last not in _END_PUNCT and not is_heading(line) and not history


# ---------------------------------------------------------------- metadata

_DATE = re.compile(r"(20\d{2}|19\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
# a date alone on its line, as under an issuing body's name at a notice's end (2024年2月18日)
_SIGNED = re.compile(r"(?m)^[ \t]*((?:20|19)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)[ \t]*$")


def normalise_date(value: object) -> str:
    """ISO ``YYYY-MM-DD`` (or ``YYYY-MM`` / ``YYYY`` when that is all that is known)."""
    if value is None or value == "":
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    s = str(value).strip()
    m = _DATE.search(s)
    if m:
        y, mo, d = (int(g) for g in m.groups())
        return f"{y:04d}-{mo:02d}-{d:02d}"
    m = re.match(r"(\d{4})(?:[-/.年](\d{1,2}))?", s)
    if m:
        return m.group(1) + (f"-{int(m.group(2)):02d}" if m.group(2) else "")
    return s


def guess_title(raw_body: str, clean: str) -> str:
    for line in raw_body.splitlines():
        if re.match(r"^\s{0,3}#{1,6}\s+\S", line):
            return angled_names(_MD_HEADING.sub("", line).strip().strip("*"))
    for pattern in (_HTML_H1, _HTML_TITLE):  # a breadcrumb line may come first in the body
        m = pattern.search(raw_body[:200_000])
        title = " ".join(html.unescape(_TAG.sub("", m.group(1))).split()) if m else ""
        title = _SITE_SUFFIX.sub("", title) if pattern is _HTML_TITLE else title
        if len(title) >= 4:
            return title
    first = clean.split("\n\n", 1)[0]
    first = re.split(r"\s*(您的位置|当前位置)", first)[0]
    return first[:80]


def _meta_str(meta: dict, *keys: str) -> str:
    for key in keys:
        value = meta.get(key)
        if value not in (None, ""):
            return value if isinstance(value, str) else str(value)
    return ""


def _one_line(text: str, limit: int) -> str:
    """Whitespace (newlines included) collapsed, cut to ``limit`` characters: titles and
    sources are shown in one line of HTML, where a blank line would end the block."""
    return " ".join(text[: limit * 4].split())[:limit]


def parse_document(raw: str, doc_id: str, path: str = "", sidecar: dict | None = None,
                   embedded: dict | None = None) -> Document:
    """Clean one document's text and work out its metadata (``embedded``: the file's own
    properties, e.g. a PDF's title, which front matter and the sidecar override)."""
    front, body = split_front_matter(raw)
    given = {**safe_meta(sidecar), **front}  # what the user states about the file
    meta = {**safe_meta(embedded), **given}
    clean, page_starts = split_pages(clean_text(body))
    url = _URL.search(body)
    title = _meta_str(meta, "title") or guess_title(body, clean)
    title = _one_line(html.unescape(title), MAX_TITLE_CHARS)
    articles = parse_articles(clean)  # once: both checks below read it
    statute = is_statute(clean, articles=articles)
    if statute and not _meta_str(given, "title") and not named_as_law(title):
        # a file property or a guess that is no law's name (国务院公报, an order before the law,
        # a title broken over two lines): the law's text names it
        title = statute_title(clean[: articles[0].start]) or title
    if statute:  # a law's own history lines and title say its version, type and region, not
        # the file's properties (a PDF's creation date is when it was exported)
        version, effective = version_dates(clean, path, articles)
        meta = {**meta, "date": version, "doc_type": doc_type_of(title), "region": region_of(title), **given}
    else:
        effective = ""
        if is_legal_title(title):
            meta = {"doc_type": doc_type_of(title), "region": region_of(title), **meta}
    # a page's bare date line ("2023-05-06 10:20") is dropped as furniture, but it still dates the page
    found = _DATE.search(clean) or _DATE.search(body[:20_000])
    # a notice is dated by its signature's date line, not by the first date it mentions (the
    # period a condition names) nor by its file's properties (when a copy was exported); a law
    # its history dates keeps that date
    signed = [] if statute and meta.get("date") else _SIGNED.findall(clean)
    date = (normalise_date(given.get("date")) or normalise_date(signed[-1] if signed else "")
            or normalise_date(meta.get("date")) or normalise_date(found.group(0) if found else ""))
    source = _meta_str(meta, "source", "url", "link") or (url.group(0) if url else path)
    return Document(
        doc_id=doc_id,
        title=title,
        text=clean,
        date=_one_line(date, MAX_META_CHARS),
        source=_one_line(source, MAX_META_CHARS),
        region=_meta_str(meta, "region") or guess_region(title, clean),
        doc_type=_meta_str(meta, "doc_type", "type") or "",
        path=path,
        effective=normalise_date(meta.get("effective")) or effective,
        statute=statute,
        sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        extra={"page_starts": page_starts} if page_starts else {},
    )


# ---------------------------------------------------------------- files

def _walk(corpus_dir: Path) -> list[tuple[Path, str]]:
    """Candidate document files and, for each, why it must be skipped ("" when it is fine).

    Sidecars and hidden files are not candidates. Links pointing outside the corpus, broken
    links and link loops are skipped, never followed.
    """
    root = corpus_dir.resolve()
    out = []
    for path in sorted(corpus_dir.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        if path.name.endswith(SIDECAR_SUFFIX) or path.suffix.lower() not in SUFFIXES:
            continue
        why = _link_problem(path, root)
        if why:
            out.append((path, why))
        elif path.is_file():
            out.append((path, ""))
    return out


def _link_problem(path: Path, root: Path) -> str:
    """Why a symlink must not be followed ("" for a plain file or a link inside ``root``)."""
    if not path.is_symlink():
        return ""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a link loop (Python < 3.13)
        return "broken link or link loop"
    return "" if target.is_relative_to(root) else "it links outside the corpus folder"


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Document files under ``corpus_dir`` (recursively), sidecars and hidden files excluded.

    Symlinks pointing outside the corpus (or nowhere) are not followed.
    """
    files = []
    for path, why in _walk(corpus_dir):
        if why:
            log.debug("not a corpus file: %s (%s)", path, why)  # load_corpus warns and reports it
        else:
            files.append(path)
    return files


def sidecar_for(path: Path) -> Path:
    """``NAME.meta.yaml`` beside ``NAME.ext``."""
    return path.with_name(path.name[: -len(path.suffix)] + SIDECAR_SUFFIX)


def doc_id_for(path: Path, corpus_dir: Path) -> str:
    """The document id: the path relative to the corpus folder, with its extension, so
    ``notice.md`` and ``notice.txt`` are two documents."""
    return path.relative_to(corpus_dir).as_posix()


def legacy_doc_id(doc_id: str) -> str:
    """The id older indexes used (no extension); still accepted where an id is asked for."""
    return doc_id[: -len(Path(doc_id).suffix)] if Path(doc_id).suffix else doc_id


def find_documents(corpus_dir: Path, ref: str) -> list[Path]:
    """The corpus files a user means by ``ref``: the document id (``sub/notice.md``), else the
    old id without extension (``sub/notice``), which may name several files."""
    corpus_dir = Path(corpus_dir)
    files = corpus_files(corpus_dir)
    exact = [p for p in files if doc_id_for(p, corpus_dir) == ref]
    return exact or [p for p in files if legacy_doc_id(doc_id_for(p, corpus_dir)) == ref]


def read_sidecar(path: Path, corpus_dir: Path) -> dict:
    """The sidecar's metadata, or ``{}`` (with a warning) when it is missing, links outside the
    corpus, is too big or is not valid YAML: a bad sidecar never costs the document."""
    sidecar = sidecar_for(path)
    if not (sidecar.is_symlink() or sidecar.exists()):
        return {}
    why = _link_problem(sidecar, Path(corpus_dir).resolve())
    try:
        if why:
            raise ValueError(why)
        if sidecar.stat().st_size > MAX_FRONT_MATTER_CHARS:
            raise ValueError(f"over {MAX_FRONT_MATTER_CHARS // 1024} KB")
        return load_yaml(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:  # UnicodeDecodeError is a ValueError
        log.warning("ignoring %s: %s", sidecar, first_line(exc))
        return {}


def read_file(path: Path, corpus_dir: Path, settings: Settings | None = None) -> Document:
    """Read and parse one corpus file; raises ``ValueError``/``OSError`` for unusable files."""
    settings = settings or Settings()
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"file is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    suffix = path.suffix.lower()
    embedded: dict = {}
    if suffix == ".pdf":
        raw, embedded = read_pdf(path, settings.pdf_max_pages)
    elif suffix == ".docx":
        raw, embedded = read_docx(path, settings.docx_max_unpacked_mb * 1_000_000, settings.docx_max_parts)
    else:
        raw = decode_bytes(path.read_bytes()).replace(PAGE_MARK, "")
        if "\x00" in raw:
            raise ValueError("file looks binary (NUL bytes)")
    sidecar = read_sidecar(path, corpus_dir)
    doc = parse_document(raw, doc_id_for(path, corpus_dir), path.relative_to(corpus_dir).as_posix(), sidecar, embedded)
    if not doc.text.strip():
        raise ValueError("no text left after cleaning")
    return doc


def needs_isolation(path: Path, settings: Settings) -> bool:
    """PDF and Word parsers, and big text files, run in the child process (see :mod:`bot.isolation`)."""
    if path.suffix.lower() in (".pdf", ".docx"):
        return True
    try:
        return path.stat().st_size > settings.isolate_above_kb * 1024
    except OSError:
        return False  # read_file reports it


def load_corpus(corpus_dir: Path, settings: Settings | None = None) -> tuple[list[Document], list[tuple[str, str]]]:
    """All readable documents, and ``(file, reason)`` for each file skipped.

    A file that cannot be read for any reason (broken, hostile, too big, too slow, a bad link,
    no permission) is skipped with a warning; the others are still loaded."""
    corpus_dir = Path(corpus_dir)
    settings = settings or Settings.from_env()
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    docs, skipped = [], []
    with IsolatedParser(settings.parse_timeout, settings.parse_memory_mb) as isolated:
        for path, why in _walk(corpus_dir):
            try:
                if why:
                    raise ValueError(why)
                if needs_isolation(path, settings):
                    docs.append(isolated.call(read_file, path, corpus_dir, settings))
                else:
                    docs.append(read_file(path, corpus_dir, settings))
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the build
                reason = first_line(exc) or type(exc).__name__
                log.warning("skipping %s: %s", path, reason)
                skipped.append((str(path), reason))
    if not docs:
        raise CorpusError(
            f"no readable documents in {corpus_dir} (looked for {', '.join(SUFFIXES)} files)"
            + (f"; skipped {len(skipped)}" if skipped else "")
        )
    return docs, skipped
