"""Text out of PDF and Word files, with the page boundaries of PDFs kept for citations.

A PDF's pages are joined with :data:`PAGE_MARK` after each page, so cleaning can still repair a
sentence broken across pages; :func:`split_pages` then removes the marks and records where each
page starts in the cleaned text.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from pathlib import Path

from .statute import cn_numeral

PAGE_MARK = "\ue000"  # private-use character: never in real text, not whitespace
# what office tools write into a file's title property when nobody named it
_TOOL_PREFIX = re.compile(r"^\s*Microsoft\s+(?:Word|PowerPoint|Excel)\s*-\s*", re.I)
_FILE_SUFFIX = re.compile(r"\.(?:docx?|wps|pdf|txt|rtf)\s*$", re.I)
# (reportlab writes "(anonymous)" into every PDF it makes whose author set no title)
_PLACEHOLDER = re.compile(r"^(?:\(?anonymous\)?|\(?unspecified\)?|untitled|无标题|未命名|标题|title|document|文档|新建.{0,20}文档)[\s\-_]*[(（]?\d*[)）]?$", re.I)


def file_title(value: object) -> str:
    """A file's title property as a title, or "" for what a tool put there (untitled, 文档1):
    the text's own first line names the document better than a placeholder.
    ``Microsoft Word - 专利法.doc`` keeps its name, 专利法."""
    title = _FILE_SUFFIX.sub("", _TOOL_PREFIX.sub("", str(value or ""))).strip()
    return "" if _PLACEHOLDER.match(title) else title


def read_pdf(path: Path, max_pages: int = 2000) -> tuple[str, dict]:
    """Page texts joined with page marks, and the file's own metadata (title, date).

    Any parser failure (broken xref, page tree too deep or cyclic, bad stream) is a
    ``ValueError``: one bad PDF is skipped, never the build."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if len(reader.pages) > max_pages:
            raise ValueError(f"PDF has {len(reader.pages)} pages, over the {max_pages}-page limit")
        pages = without_running_lines([page_text(page) for page in reader.pages])
        info = reader.metadata or {}
        meta = {}
        if file_title(getattr(info, "title", None)):
            meta["title"] = file_title(info.title)
        created = getattr(info, "creation_date", None)
        if created:
            meta["date"] = created.date()
    except (ValueError, MemoryError):
        raise
    except RecursionError as exc:
        raise ValueError("PDF cannot be read (its structure is nested too deeply)") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on hostile files
        raise ValueError(f"PDF cannot be read ({type(exc).__name__}: {first_line(exc)})") from exc
    if not any(pages):
        raise ValueError("PDF has no extractable text (scanned images need OCR first)")
    return "\n".join(f"{p}\n{PAGE_MARK}" for p in pages), meta


_EDGE_LINES = 2  # a running head or foot is among the first or last lines of a page
_DIGITS = re.compile(r"[0-9０-９]+")


def _furniture_key(line: str) -> str:
    """A line as it repeats from page to page: page numbers (- 3 -, 第 3 页 共 10 页) vary."""
    return _DIGITS.sub("#", re.sub(r"\s+", "", line))


def without_running_lines(pages: list[str]) -> list[str]:
    """Pages without their running heads and feet (the law's title or 国务院公报 on top of every
    page, a page number below): a line at the edge of at least half the pages, numbers aside."""
    paged = [[line for line in page.split("\n") if line.strip()] for page in pages]
    at_edges = Counter(key for lines in paged
                       for key in {_furniture_key(line) for line in lines[:_EDGE_LINES] + lines[-_EDGE_LINES:]})
    running = {key for key, n in at_edges.items() if n >= max(2, len(pages) / 2)}
    if not running:
        return pages
    out = []
    for lines in paged:
        top = range(min(_EDGE_LINES, len(lines)))
        bottom = range(len(lines) - 1, max(len(lines) - 1 - _EDGE_LINES, -1), -1)
        drop = {i for edge in (top, bottom) for i in _running_at(lines, edge, running)}
        out.append("\n".join(line for i, line in enumerate(lines) if i not in drop))
    return out


def _running_at(lines: list[str], edge: range, running: set[str]) -> list[int]:
    """The running lines at one edge of a page, outermost first; a line repeating one of them
    (page 1's title under the same running head) is the page's own."""
    found, keys = [], set()
    for i in edge:
        key = _furniture_key(lines[i])
        if key not in running or key in keys:
            break
        found.append(i)
        keys.add(key)
    return found


# a gap of three or more spaces inside a line of layout text: the space between two table columns
_COLUMN_GAP = re.compile(r"(?<=\S) {3,}(?=\S)")


def page_text(page) -> str:  # noqa: ANN001 - a pypdf page
    """A page's text laid out as printed, its table columns as " | " cells: plain extraction
    puts every cell of a table on a line of its own (资助事项, 资助金额, 备注, 新认定的驰名商标, 100万元…),
    so no figure keeps its row. Plain extraction when layout mode fails or finds nothing."""
    try:
        laid = page.extract_text(extraction_mode="layout") or ""
    except Exception:  # noqa: BLE001 - layout mode trips on fonts plain mode reads
        laid = ""
    if not laid.strip():
        return (page.extract_text() or "").strip()
    return "\n".join(_COLUMN_GAP.sub(" | ", line.strip()) for line in laid.splitlines()).strip()


def check_zip(path: Path, max_unpacked_bytes: int, max_parts: int) -> None:
    """Refuse a ZIP container (DOCX) whose declared contents are too big or too many before
    anything is inflated: python-docx loads every part, images included, into memory.
    Python's zipfile never inflates a member beyond its declared size, so the check holds."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"Word file cannot be read (not a valid ZIP: {first_line(exc)})") from exc
    if len(members) > max_parts:
        raise ValueError(f"Word file has {len(members)} parts, over the limit of {max_parts}")
    unpacked = sum(m.file_size for m in members)
    if unpacked > max_unpacked_bytes:
        raise ValueError(f"Word file unpacks to {unpacked / 1e6:.0f} MB, over the {max_unpacked_bytes / 1e6:.0f} MB limit")


def read_docx(path: Path, max_unpacked_bytes: int = 64_000_000, max_parts: int = 2000) -> tuple[str, dict]:
    """Paragraphs and table rows in document order, and the file's core properties.

    Truncated XML, corrupt compressed data and oversized archives are ``ValueError``s."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_zip(path, max_unpacked_bytes, max_parts)
    try:
        document = docx.Document(str(path))
        numbering = ListNumbering(document)
        lines = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                paragraph = Paragraph(child, document)
                label = numbering.label(paragraph)
                lines.append(f"{label} {paragraph.text}" if label else paragraph.text)
            elif tag == "tbl":
                for row in Table(child, document).rows:
                    cells = [c.text.strip() for c in row.cells]
                    lines.append(" | ".join(dict.fromkeys(c for c in cells if c)))
        props = document.core_properties
        meta = {}
        if file_title(props.title):
            meta["title"] = file_title(props.title)
        if props.created:
            meta["date"] = props.created.date()
    except (ValueError, MemoryError):
        raise
    except RecursionError as exc:
        raise ValueError("Word file cannot be read (nested too deeply)") from exc
    except Exception as exc:  # noqa: BLE001 - lxml, zlib, zipfile and python-docx errors alike
        raise ValueError(f"Word file cannot be read ({type(exc).__name__}: {first_line(exc)})") from exc
    return "\n\n".join(lines), meta


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CHINESE_FORMATS = ("chineseCounting", "chineseCountingThousand", "chineseLegalSimplified", "ideographTraditional",
                    "taiwaneseCounting", "taiwaneseCountingThousand", "ideographDigital")


class ListNumbering:
    """The numbers Word draws before numbered paragraphs (第%1条 in Chinese numerals, 1.): they
    are in no paragraph's text, and a law whose articles are a numbered list has no 第N条 without
    them. Counters run per list and level in document order, as Word counts them."""

    def __init__(self, document: object) -> None:
        self.levels: dict[str, dict[int, tuple[str, str, int]]] = {}  # numId -> ilvl -> (format, text, start)
        self.counts: dict[str, dict[int, int]] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):  # no numbering part: nothing numbered
            return
        abstract = {a.get(_W + "abstractNumId"): {_number(lvl.get(_W + "ilvl"), 0): _level(lvl) for lvl in a.iter(_W + "lvl")}
                    for a in root.iter(_W + "abstractNum")}
        for num in root.iter(_W + "num"):
            ref = num.find(_W + "abstractNumId")
            if ref is not None:
                self.levels[num.get(_W + "numId")] = abstract.get(ref.get(_W + "val"), {})

    def label(self, paragraph: object) -> str:
        """The number drawn before ``paragraph`` ("" when it has none), counting it."""
        num_id, ilvl = _num_pr(paragraph)
        levels = self.levels.get(num_id or "")
        if not levels or ilvl not in levels or levels[ilvl][0] in ("bullet", "none"):
            return ""
        counts = self.counts.setdefault(num_id, {})
        counts[ilvl] = counts.get(ilvl, levels[ilvl][2] - 1) + 1
        for deeper in [k for k in counts if k > ilvl]:
            del counts[deeper]  # a new item restarts the lists under it
        return re.sub(r"%([1-9])", lambda m: _format(levels, counts, int(m.group(1)) - 1), levels[ilvl][1])


def _level(lvl: object) -> tuple[str, str, int]:
    def val(name: str, default: str) -> str:
        node = lvl.find(_W + name)
        return node.get(_W + "val", default) if node is not None else default
    return val("numFmt", "decimal"), val("lvlText", ""), _number(val("start", "1"), 1)


def _number(value: str | None, default: int) -> int:
    """A count or level as Word writes it, ``default`` for anything else (a broken file)."""
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 7 else default


def _format(levels: dict, counts: dict, ilvl: int) -> str:
    n = counts.get(ilvl, levels.get(ilvl, ("", "", 1))[2])
    return cn_numeral(n) if levels.get(ilvl, ("decimal",))[0] in _CHINESE_FORMATS else str(n)


def _num_pr(paragraph: object) -> tuple[str | None, int]:
    """The list (numId) and level of a paragraph, from its own properties or its style's."""
    for holder in (paragraph._p, getattr(paragraph.style, "element", None)):
        ppr = holder.find(_W + "pPr") if holder is not None else None
        num_pr = ppr.find(_W + "numPr") if ppr is not None else None
        if num_pr is not None:
            num_id, ilvl = num_pr.find(_W + "numId"), num_pr.find(_W + "ilvl")
            level = _number(ilvl.get(_W + "val") if ilvl is not None else None, 0)
            return (num_id.get(_W + "val") if num_id is not None else None), level
    return None, 0


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, short enough for a skip reason."""
    return str(exc).strip().split("\n", 1)[0][:200]


def split_pages(text: str) -> tuple[str, list[int]]:
    """Remove page marks; return the text and the offsets where pages 2, 3, ... start."""
    parts = text.split(PAGE_MARK)
    starts, pos = [], 0
    for i, part in enumerate(parts):
        if i:
            starts.append(pos)
        pos += len(part)
    if len(parts) > 1 and not parts[-1].strip():
        starts.pop()  # the mark after the last page starts no page
    return "".join(parts).rstrip(), starts


def page_at(page_starts: list[int], offset: int) -> int:
    """1-based page number of a character offset."""
    return bisect.bisect_right(page_starts, offset) + 1
