"""Cutting documents into passages that are retrieved and quoted.

Chinese-aware: cuts fall at paragraph ends, then after 。！？；, then after clause punctuation,
never inside a number. Every chunk knows its document and its character span in the cleaned
text, so a citation can point at the exact passage.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterable

from .corpus import Document
from .statute import ITEM_START, statute_pieces, version_key
from .text import match_form, to_simplified

if TYPE_CHECKING:  # imported when splitting: loading an index needs Chunk, not langchain (seconds of imports)
    from langchain_text_splitters import RecursiveCharacterTextSplitter

# Zero-width split points, tried in order: paragraph, sentence, clause, then between two
# characters that are not both part of a number.
SEPARATORS = [
    r"\n\n+",
    r"\n",
    r"(?<=[。！？!?；;])",
    r"(?<=[，,、：:）)])",
    r"(?<![0-9０-９.．%％])(?![0-9０-９.．%％])",
    "",  # last resort: a run with no legal cut at all ("1 1 1 ..."): anywhere, so no chunk outgrows chunk_size
]


@dataclass
class Chunk:
    chunk_id: int
    doc_id: str
    text: str
    start: int
    end: int
    title: str
    article: str = ""  # 第五十条, for passages of a statute
    path: str = ""  # the chapter/section headings above the article
    lead: str = ""  # the sentence that introduces a piece of a long article

    @property
    def is_article(self) -> bool:
        return bool(self.article)

    def context(self) -> str:
        """Where the passage sits, for a reader who sees it alone: path and lead sentence."""
        return "\n".join(p for p in (self.path, self.lead and f"{self.article} {self.lead}……") if p)

    def embedding_text(self) -> str:
        """What the encoder and BM25 see: simplified script (traditional passages match
        simplified questions far better), with the title, chapter and lead sentence giving
        the passage its context."""
        return to_simplified("\n".join(p for p in (self.title, self.context(), self.text) if p))

    def parts(self) -> list[str]:
        """The embedding texts of each 款 of an article passage that has several: one vector for
        a whole article is dominated by its first 款 (商标法第五十九条 is about 通用名称 before it
        is about a name used before its registration), so each 款 is embedded too, with the
        passage's context. Items (项) stay with their list: alone, "没有按照规定缴纳年费的"
        would match 不交年费 in any list of cases."""
        paras = [p.strip() for p in self.text.split("\n") if p.strip() and not ITEM_START.match(p.strip())]
        if not self.article or len(paras) < 2:
            return []
        head = "\n".join(p for p in (self.title, self.context()) if p)
        return [to_simplified(f"{head}\n{p}" if p.startswith(self.article) else f"{head}\n{self.article} {p}") for p in paras]

    def to_dict(self) -> dict:
        return asdict(self)


def make_splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        strip_whitespace=True,
    )


def chunk_document(doc: Document, splitter: RecursiveCharacterTextSplitter, min_chars: int,
                   article_size: int = 0) -> list[Chunk]:
    """Chunks of one document with their offsets into ``doc.text`` (ids assigned later).

    A statute is cut one article per chunk (long articles at 款/项 boundaries); its text
    outside articles (history lines, attachments) and any other document by length.
    """
    loose, pieces = [(0, len(doc.text))], []
    if doc.statute and article_size:
        pieces, loose = statute_pieces(doc.text, article_size)
    if not doc.statute:
        loose = sections(doc.text)
    chunks = [c for start, end, *heading in loose
              for c in _split(doc, splitter, min_chars, doc.text[start:end], start, *heading)]
    chunks += [Chunk(-1, doc.doc_id, doc.text[p.start:p.end], p.start, p.end, doc.title, p.article, p.path, p.lead)
               for p in pieces]
    return sorted(chunks, key=lambda c: c.start)  # in document order


# a notice's section heading on a line of its own: 一、申报条件, ## 三、申报材料 (short, no sentence)
SECTION_HEADING = re.compile(r"(?m)^[ \t#]*([一二三四五六七八九十]{1,3}[、.．][^\n。；;，,]{1,24})[ \t]*$")


def sections(text: str) -> list[tuple[int, int, str]]:
    """A policy notice's spans between its section headings, each with its heading: a passage
    cut from 三、申报材料 is a list of 申请表, 营业执照… that says "材料" nowhere else, so the
    heading travels with it (as a statute's chapter does) into what is embedded and matched."""
    marks = [(m.start(), m.group(1).strip()) for m in SECTION_HEADING.finditer(text)]
    bounds = [(0, ""), *marks] if not marks or marks[0][0] > 0 else marks
    return [(start, end, heading) for (start, heading), end in zip(bounds, [b for b, _ in bounds[1:]] + [len(text)])]


def _split(doc: Document, splitter: RecursiveCharacterTextSplitter, min_chars: int, text: str,
           offset: int = 0, heading: str = "") -> list[Chunk]:
    """Length-cut chunks of ``text``, which starts at ``offset`` in the document, under ``heading``."""
    chunks, cursor = [], 0
    for piece in splitter.split_text(text):
        start = text.find(piece, max(0, cursor - len(piece)))
        if start < 0:
            start = text.find(piece)
        cursor = start + len(piece)
        if len(piece) < min_chars:
            continue
        chunks.append(Chunk(-1, doc.doc_id, piece, offset + start, offset + start + len(piece), doc.title,
                            path=heading if heading != piece else ""))
    return chunks


def chunk_documents(docs: list[Document], chunk_size: int, chunk_overlap: int, min_chars: int,
                    article_size: int = 0) -> tuple[list[Chunk], int]:
    """All chunks, numbered, with identical passages (after normalisation) kept once: the
    first document wins, so put current versions of a law before superseded ones.

    Returns the chunks and how many duplicates were dropped.
    """
    splitter = make_splitter(chunk_size, chunk_overlap)
    return unique_chunks(chunk for doc in docs for chunk in chunk_document(doc, splitter, min_chars, article_size))


def unique_chunks(chunks: Iterable[Chunk]) -> tuple[list[Chunk], int]:
    """``chunks`` numbered in order, each passage kept at its first occurrence (after
    normalisation). Separate from chunking so that documents chunked in parts (on a cluster)
    are deduplicated exactly as in one pass. Returns the chunks and how many were dropped."""
    seen: set[str] = set()
    out: list[Chunk] = []
    dropped = 0
    for chunk in chunks:
        # an article repeated in another version of the same law is one passage; the same
        # wording in two different laws is two citable articles (a chunk's title is its document's)
        scope = version_key(chunk.title) if chunk.article else ""
        key = hashlib.sha1((scope + re.sub(r"\W", "", match_form(chunk.text))).encode()).hexdigest()
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        chunk.chunk_id = len(out)
        out.append(chunk)
    return out, dropped
