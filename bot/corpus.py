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
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from .formats import PAGE_MARK, read_docx, read_pdf, split_pages
from .statute import doc_type_of, is_statute, region_of, version_dates

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
SUFFIXES = (*TEXT_SUFFIXES, ".pdf", ".docx")
SIDECAR_SUFFIX = ".meta.yaml"
MAX_FILE_BYTES = 20 * 1024 * 1024

# Regions we recognise, most specific first; the value is what a filter offers.
REGIONS = {
    "崂山": "青岛/崂山", "青岛": "青岛", "烟台": "烟台", "莱州": "烟台", "济南": "济南", "潍坊": "潍坊",
    "淄博": "淄博", "威海": "威海", "日照": "日照", "临沂": "临沂", "东营": "东营", "济宁": "济宁",
    "山东": "山东", "全国": "全国", "国家知识产权局": "全国",
}


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


class CorpusError(RuntimeError):
    """The corpus as a whole cannot be used (missing, or no readable document)."""


# What reading one file may raise: that file is skipped with the reason, the build goes on.
READ_ERRORS = (OSError, ValueError, yaml.YAMLError)


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

_FRONT_MATTER = re.compile(r"\A\ufeff?\s*---[ \t]*\n(.*?)\n---[ \t]*\n", re.S)
_BLOCK_TAGS = re.compile(r"(?i)<\s*/?\s*(p|br|div|li|ul|ol|h[1-6]|tr|table|section|article|blockquote|hr)\b[^>]*>")
_DROP_ELEMENTS = re.compile(r"(?is)<\s*(script|style|noscript|iframe|head)\b.*?<\s*/\s*\1\s*>")
_TAG = re.compile(r"<[^>\n]{0,2000}>")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_URL = re.compile(r"https?://[^\s<>)\]\"'，。]+")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
# mojibake left where quotation marks were mis-decoded, e.g. "?!苯?" or "?;谋厝贿x"
_MOJIBAKE = re.compile(r"\?[!;][^\s?A-Za-z]{0,8}[?A-Za-z]")
_BOILERPLATE = re.compile(
    r"返回首页|返回.{0,12}新闻|【\s*打印\s*】|【\s*关闭\s*】|免责声明|版权所有|当前位置|您的位置|"
    r"ICP备|ICP证|网站标识码|访问量[:：]|浏览次数|联系电话[:：]|通信地址|邮政编码|网站地图|联系我们|"
    r"上一篇|下一篇|责任编辑|^来源[:：]|^\s*(Top|TOP|top)\s*$|^\s*文章来源|^\s*[（(]文章来源|"
    r"^\S{0,6}\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(\s+\d{1,2}:\d{2}(:\d{2})?)?$|"
    r"^[-—–\s]*(第\s*)?\d{1,4}\s*(页|/\s*\d{1,4})?[-—–\s]*$"  # page numbers
)
_END_PUNCT = "。！？；：…”’」』）)!?;:"
_SENTENCE_BREAK_MIN = 20  # a line this long without final punctuation was cut by a page break


def split_front_matter(text: str) -> tuple[dict, str]:
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        log.warning("front matter is not valid YAML (%s); treating it as text", exc)
        return {}, text
    return (meta if isinstance(meta, dict) else {}), text[m.end():]


def strip_markup(text: str) -> str:
    """HTML and Markdown to plain text, one paragraph per line."""
    text = _DROP_ELEMENTS.sub("\n", text)
    text = _BLOCK_TAGS.sub("\n", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    lines = []
    for line in text.splitlines():
        line = _MD_HEADING.sub("", line)
        line = _MD_EMPHASIS.sub(r"\2", line)
        lines.append(line)
    return "\n".join(lines)


def is_boilerplate(line: str) -> bool:
    stripped = line.strip()
    if not stripped:
        return True
    if _BOILERPLATE.search(stripped):
        return True
    return bool(_URL.fullmatch(stripped))


def clean_text(text: str) -> str:
    """Plain paragraphs separated by blank lines: markup, furniture and duplicates removed,
    paragraphs broken by page breaks joined again."""
    text = strip_markup(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _MOJIBAKE.sub("", text)
    paragraphs: list[str] = []
    for line in text.split("\n"):
        line = re.sub(r"[ \t\u3000\xa0]+", " ", line).strip()
        if line == PAGE_MARK:  # a PDF page ends here: remember where, keep the paragraph open
            if paragraphs:
                paragraphs[-1] += PAGE_MARK
            continue
        if is_boilerplate(line):
            continue
        prev = paragraphs[-1] if paragraphs else ""
        if _broken_by_page(prev, line):
            paragraphs[-1] = prev + line
        else:
            paragraphs.append(line)
    seen: set[str] = set()
    unique = []
    for p in paragraphs:
        key = re.sub(r"\s+", "", p)
        if len(key) >= _SENTENCE_BREAK_MIN and key in seen:
            continue
        seen.add(key)
        unique.append(p)
    return "\n\n".join(unique)


def _broken_by_page(prev: str, line: str) -> bool:
    """A body paragraph (long, with clause punctuation) that stops mid-sentence, followed by a
    line that starts mid-sentence: the two halves of one sentence split by a page break.
    Headings and titles have no clause punctuation, so they are never glued to the next line."""
    prev = prev.rstrip(PAGE_MARK)
    if not prev or not line:
        return False
    open_clause = prev[-1] in "，、,（("  # a line ending on a comma always continues
    if not open_clause and (len(prev) < _SENTENCE_BREAK_MIN or prev[-1] in _END_PUNCT or not any(c in prev for c in "，,。；;")):
        return False
    return ("\u4e00" <= line[0] <= "\u9fff") or line[0].isdigit() or line[0] in "，、）)%"


# ---------------------------------------------------------------- metadata

_DATE = re.compile(r"(20\d{2}|19\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


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


def guess_region(text: str) -> str:
    counts: dict[str, int] = {}
    for key, region in REGIONS.items():
        n = text.count(key)
        if n:
            counts[region] = counts.get(region, 0) + n
    if not counts:
        return ""
    return max(counts, key=lambda r: (counts[r], -list(REGIONS.values()).index(r)))


def guess_title(raw_body: str, clean: str) -> str:
    for line in raw_body.splitlines():
        if re.match(r"^\s{0,3}#{1,6}\s+\S", line):
            return _MD_HEADING.sub("", line).strip().strip("*")
    first = clean.split("\n\n", 1)[0]
    first = re.split(r"\s*(您的位置|当前位置)", first)[0]
    return first[:80]


def _meta_str(meta: dict, *keys: str) -> str:
    for key in keys:
        value = meta.get(key)
        if value not in (None, ""):
            return value if isinstance(value, str) else str(value)
    return ""


def parse_document(raw: str, doc_id: str, path: str = "", sidecar: dict | None = None,
                   embedded: dict | None = None) -> Document:
    """Clean one document's text and work out its metadata (``embedded``: the file's own
    properties, e.g. a PDF's title, which front matter and the sidecar override)."""
    front, body = split_front_matter(raw)
    meta = {**(embedded or {}), **(sidecar or {}), **front}
    clean, page_starts = split_pages(clean_text(body))
    urls = _URL.findall(body)
    title = _meta_str(meta, "title") or guess_title(body, clean)
    statute = is_statute(clean)
    if statute:  # a law's own history lines and title say its version, type and region
        version, effective = version_dates(clean, path)
        meta = {"date": version, "doc_type": doc_type_of(title), "region": region_of(title), **meta}
    else:
        effective = ""
    date = normalise_date(meta.get("date")) or normalise_date(_DATE.search(clean).group(0) if _DATE.search(clean) else "")
    source = _meta_str(meta, "source", "url", "link") or (urls[0] if urls else path)
    known = {"title", "date", "source", "url", "link", "region", "doc_type", "type", "effective"}
    return Document(
        doc_id=doc_id,
        title=html.unescape(title).strip(),
        text=clean,
        date=date,
        source=source,
        region=_meta_str(meta, "region") or guess_region(title + "\n" + clean),
        doc_type=_meta_str(meta, "doc_type", "type") or "",
        path=path,
        effective=normalise_date(meta.get("effective")) or effective,
        statute=statute,
        sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        extra={
            **{k: v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in meta.items() if k not in known},
            **({"page_starts": page_starts} if page_starts else {}),
        },
    )


# ---------------------------------------------------------------- files

def corpus_files(corpus_dir: Path) -> list[Path]:
    """Document files under ``corpus_dir`` (recursively), sidecars and hidden files excluded.

    Symlinks pointing outside the corpus are not followed.
    """
    root = corpus_dir.resolve()
    files = []
    for path in sorted(corpus_dir.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        if path.name.endswith(SIDECAR_SUFFIX) or path.suffix.lower() not in SUFFIXES:
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            log.warning("skipping %s: it links outside the corpus folder", path)
            continue
        if path.is_file():
            files.append(path)
    return files


def sidecar_for(path: Path) -> Path:
    """``NAME.meta.yaml`` beside ``NAME.ext``."""
    return path.with_name(path.name[: -len(path.suffix)] + SIDECAR_SUFFIX)


def doc_id_for(path: Path, corpus_dir: Path) -> str:
    return path.relative_to(corpus_dir).with_suffix("").as_posix()


def read_file(path: Path, corpus_dir: Path) -> Document:
    """Read and parse one corpus file; raises ``ValueError``/``OSError`` for unusable files."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"file is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    suffix = path.suffix.lower()
    embedded: dict = {}
    if suffix == ".pdf":
        raw, embedded = read_pdf(path)
    elif suffix == ".docx":
        raw, embedded = read_docx(path)
    else:
        raw = decode_bytes(path.read_bytes()).replace(PAGE_MARK, "")
        if "\x00" in raw:
            raise ValueError("file looks binary (NUL bytes)")
    sidecar_path = sidecar_for(path)
    sidecar = {}
    if sidecar_path.is_file():
        loaded = yaml.safe_load(sidecar_path.read_text(encoding="utf-8"))
        sidecar = loaded if isinstance(loaded, dict) else {}
    doc = parse_document(raw, doc_id_for(path, corpus_dir), path.relative_to(corpus_dir).as_posix(), sidecar, embedded)
    if not doc.text.strip():
        raise ValueError("no text left after cleaning")
    return doc


def load_corpus(corpus_dir: Path) -> tuple[list[Document], list[tuple[str, str]]]:
    """All readable documents, and ``(file, reason)`` for each file skipped."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    docs, skipped = [], []
    for path in corpus_files(corpus_dir):
        try:
            docs.append(read_file(path, corpus_dir))
        except READ_ERRORS as exc:
            log.warning("skipping %s: %s", path, exc)
            skipped.append((str(path), str(exc)))
    if not docs:
        raise CorpusError(
            f"no readable documents in {corpus_dir} (looked for {', '.join(SUFFIXES)} files)"
            + (f"; skipped {len(skipped)}" if skipped else "")
        )
    return docs, skipped


def add_files(corpus_dir: Path, paths: list[Path]) -> list[Path]:
    """Copy documents (and their ``.meta.yaml`` sidecars) into the corpus; returns the copies.

    Unsupported types, empty and oversized files are refused with a ``ValueError`` before
    anything is copied.
    """
    corpus_dir = Path(corpus_dir)
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        if path.suffix.lower() not in SUFFIXES:
            raise ValueError(f"{path.name}: unsupported type (use {', '.join(SUFFIXES)})")
        size = path.stat().st_size
        if size == 0 or size > MAX_FILE_BYTES:
            raise ValueError(f"{path.name}: size {size} bytes is outside 1 byte .. {MAX_FILE_BYTES // 2**20} MB")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in paths:
        target = corpus_dir / path.name
        if target.resolve() != path.resolve():
            shutil.copyfile(path, target)
        sidecar = sidecar_for(path)
        if sidecar.is_file() and sidecar.resolve() != (corpus_dir / sidecar.name).resolve():
            shutil.copyfile(sidecar, corpus_dir / sidecar.name)
        copies.append(target)
    return copies


def remove_document(corpus_dir: Path, doc_id: str) -> list[Path]:
    """Delete the file(s) behind ``doc_id`` and its sidecar; returns what was deleted."""
    corpus_dir = Path(corpus_dir)
    files = [p for p in corpus_files(corpus_dir) if doc_id_for(p, corpus_dir) == doc_id]
    if not files:
        raise ValueError(f"no document with id {doc_id!r} in {corpus_dir}")
    removed = []
    for path in files:
        sidecar = sidecar_for(path)
        for victim in (path, sidecar):
            if victim.is_file():
                victim.unlink()
                removed.append(victim)
    return removed
