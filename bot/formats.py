"""Text out of PDF and Word files, with the page boundaries of PDFs kept for citations.

A PDF's pages are joined with :data:`PAGE_MARK` after each page, so cleaning can still repair a
sentence broken across pages; :func:`split_pages` then removes the marks and records where each
page starts in the cleaned text.
"""

from __future__ import annotations

import bisect
from pathlib import Path

PAGE_MARK = "\ue000"  # private-use character: never in real text, not whitespace


def read_pdf(path: Path) -> tuple[str, dict]:
    """Page texts joined with page marks, and the file's own metadata (title, date)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        info = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"PDF cannot be read ({exc})") from exc
    if not any(pages):
        raise ValueError("PDF has no extractable text (scanned images need OCR first)")
    meta = {}
    if getattr(info, "title", None):
        meta["title"] = str(info.title)
    created = getattr(info, "creation_date", None)
    if created:
        meta["date"] = created.date()
    return "\n".join(f"{p}\n{PAGE_MARK}" for p in pages), meta


def read_docx(path: Path) -> tuple[str, dict]:
    """Paragraphs and table rows in document order, and the file's core properties."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, ValueError, KeyError) as exc:
        raise ValueError(f"Word file cannot be read ({exc})") from exc
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
    if props.title:
        meta["title"] = props.title
    if props.created:
        meta["date"] = props.created.date()
    return "\n\n".join(lines), meta


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
