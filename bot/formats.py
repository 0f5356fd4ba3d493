"""Text out of PDF and Word files, with the page boundaries of PDFs kept for citations.

A PDF's pages are joined with :data:`PAGE_MARK` after each page, so cleaning can still repair a
sentence broken across pages; :func:`split_pages` then removes the marks and records where each
page starts in the cleaned text.
"""

from __future__ import annotations

import bisect
import re
from pathlib import Path

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
        pages = [page_text(page) for page in reader.pages]
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
        lines = []
        for child in document.element.body.iterchildren():
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                lines.append(Paragraph(child, document).text)
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
