"""Index backends and the on-disk index.

Two backends share one small interface (``search(query, k, allowed) -> (ids, scores)``,
``save(dir)``, ``load(dir)``): :class:`DenseIndex` (FAISS over e5 vectors) and
:class:`LexicalIndex` (BM25 over jieba tokens, bm25s sparse matrices). :class:`IndexStore`
bundles them with the chunks, documents and a manifest that records what built them and the
checksum of every file, so a damaged or mismatched index is refused with a clear message.

Layout of an index folder: ``current`` is a symlink to the live build ``build-<time>/``; a new
build is written beside it and the link is swapped atomically, so a crash mid-build leaves the
previous index working.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np

from .chunking import Chunk
from .corpus import Document
from .hashing import file_digests

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
CURRENT = "current"
MANIFEST = "manifest.json"


class IndexUnavailable(RuntimeError):
    """The index cannot be used; the message tells the user what to do."""


class Backend(Protocol):
    """What every index backend provides; the store saves and checks them through it."""

    def search(self, query, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...
    def save(self, directory: Path) -> None: ...


class DenseIndex:
    """Inner-product search over L2-normalised vectors: exact while small, IVF when large.

    IVF (inverted file over k-means cells) builds in seconds even at a million chunks, so
    rebuilds stay cheap; ``nprobe`` trades recall for latency (bench/scale.py).
    """

    FILE = "dense.faiss"

    def __init__(self, index) -> None:
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, flat_max: int, nlist: int = 0) -> "DenseIndex":
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if n <= flat_max:
            index = faiss.IndexFlatIP(dim)
        else:
            nlist = nlist or max(64, int(np.sqrt(n)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
            sample = np.random.default_rng(0).choice(n, size=min(n, 100 * nlist), replace=False)
            index.train(vectors[np.sort(sample)])
        index.add(vectors)
        return cls(index)

    @property
    def kind(self) -> str:
        return type(self.index).__name__

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               nprobe: int = 192) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        k = min(k, self.index.ntotal)
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        selector = faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64)) if allowed is not None else None
        if isinstance(self.index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(nprobe=min(nprobe, self.index.nlist), sel=selector)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        scores, ids = self.index.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self.index, str(directory / self.FILE))

    @classmethod
    def load(cls, directory: Path) -> "DenseIndex":
        import faiss

        return cls(faiss.read_index(str(directory / cls.FILE)))


class PartIndex:
    """Vectors of the 款 of article passages, each owned by its passage: a question
    about an article's third 款 matches that 款 far better than the whole article's vector.
    Searching returns passages, each scored by its best part."""

    FILE, OWNERS = "parts.faiss", "part_owners.npy"

    def __init__(self, dense: DenseIndex, owners: np.ndarray) -> None:
        self.dense, self.owners = dense, owners

    @classmethod
    def build(cls, vectors: np.ndarray, owners: np.ndarray, flat_max: int, nlist: int = 0) -> "PartIndex":
        return cls(DenseIndex.build(vectors, flat_max, nlist), owners)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
               nprobe: int = 192) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best passages by their best part (a passage has several parts, so more are read)."""
        ids, scores = self.dense.search(query, 4 * k, allowed[self.owners] if allowed is not None else None, nprobe)
        best: dict[int, float] = {}  # scores come best first: a passage's first part is its best
        for owner, score in zip(self.owners[ids].tolist(), scores.tolist()):
            best.setdefault(owner, score)
        passages = list(best)[:k]
        return np.array(passages, dtype=np.int64), np.array([best[p] for p in passages], dtype=np.float32)

    def save(self, directory: Path) -> None:
        import faiss

        faiss.write_index(self.dense.index, str(directory / self.FILE))
        np.save(directory / self.OWNERS, self.owners)

    @classmethod
    def load(cls, directory: Path) -> "PartIndex | None":
        """The parts of an index's passages; None for an index built without them."""
        import faiss

        if not (directory / cls.FILE).is_file():
            return None
        return cls(DenseIndex(faiss.read_index(str(directory / cls.FILE))), np.load(directory / cls.OWNERS))


def _bm25s():
    import bm25s

    # bm25s pins its logger to DEBUG on import; let the application's logging config decide
    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


class LexicalIndex:
    """BM25 over jieba tokens of the simplified text (bm25s: sparse matrices, no Python loops)."""

    DIR = "lexical"

    def __init__(self, bm25) -> None:
        self.bm25 = bm25

    @classmethod
    def build(cls, token_lists: Iterable[list[str]]) -> "LexicalIndex":
        """BM25 over each passage's tokens, read one passage at a time: tokens become ids into
        one vocabulary as they come, so a large corpus holds a pointer per token, not a string."""
        vocab: dict[str, int] = {}
        # bm25s cannot index an empty document list entry; keep positions aligned with chunks
        ids = [[vocab.setdefault(t, len(vocab)) for t in (tokens or ["\u2205"])] for tokens in token_lists]
        bm25 = _bm25s().BM25()
        bm25.index((ids, vocab), show_progress=False)
        return cls(bm25)

    def search(self, tokens: list[str], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        n = self.bm25.scores["num_docs"]
        k = min(k, n)
        if k <= 0 or not tokens:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        mask = allowed.astype(np.float32) if allowed is not None else None
        ids, scores = self.bm25.retrieve([tokens], k=k, show_progress=False, weight_mask=mask, n_threads=1)
        keep = scores[0] > 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def knows(self, term: str, tokens: list[str]) -> bool:
        """Whether the corpus contains ``term`` (or all of its search tokens)."""
        vocab = self.bm25.vocab_dict
        return term in vocab or (bool(tokens) and all(t in vocab for t in tokens))

    def idf(self, term: str, tokens: list[str]) -> float:
        """BM25's inverse document frequency of ``term`` (of its rarest search token when the
        term is not a token itself); an unknown term is as rare as can be."""
        vocab, ptr = self.bm25.vocab_dict, self.bm25.scores["indptr"]
        ids = [vocab[t] for t in ([term] if term in vocab else tokens) if t in vocab]
        if not ids:
            df = 0
        else:
            df = min(int(ptr[i + 1] - ptr[i]) if i + 1 < len(ptr) else 1 for i in ids)
        n = self.bm25.scores["num_docs"]
        return float(np.log((n - df + 0.5) / (df + 0.5) + 1.0))

    def save(self, directory: Path) -> None:
        self.bm25.save(str(directory / self.DIR))

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        return cls(_bm25s().BM25.load(str(directory / cls.DIR)))


def resolve_build(index_dir: Path) -> Path:
    """The folder holding the live build (follows ``current``; a bare build folder works too)."""
    index_dir = Path(index_dir)
    if (index_dir / CURRENT / MANIFEST).is_file():
        return (index_dir / CURRENT).resolve()
    if (index_dir / MANIFEST).is_file():
        return index_dir
    raise IndexUnavailable(f"no index found in {index_dir}; build it with: python -m bot build --index {index_dir}")


def read_manifest(index_dir: Path) -> dict:
    build = resolve_build(index_dir)
    try:
        return json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"index manifest in {build} is unreadable ({exc}); rebuild with: python -m bot build") from exc


def damaged_files(index_dir: Path) -> list[str]:
    """The live index's files whose content is not what its manifest recorded (or missing)."""
    expected = read_manifest(index_dir).get("files", {})
    actual = file_digests(resolve_build(index_dir), skip=MANIFEST)
    return sorted(name for name in expected if actual.get(name) != expected[name])


@dataclass
class IndexStore:
    """Everything a retriever needs, loaded and verified."""

    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    dense: DenseIndex
    lexical: LexicalIndex
    path: Path
    parts: PartIndex | None = None

    @property
    def backends(self) -> tuple[Backend, ...]:
        return (self.dense, self.lexical, *([self.parts] if self.parts else []))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "chunks.jsonl").open("w", encoding="utf-8") as fh:
            for chunk in self.chunks:
                fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
        (directory / "documents.json").write_text(
            json.dumps([d.to_dict() for d in self.documents.values()], ensure_ascii=False, indent=1), encoding="utf-8"
        )
        for backend in self.backends:
            backend.save(directory)
        manifest = {**self.manifest, "files": file_digests(directory, skip=MANIFEST)}
        (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        self.manifest, self.path = manifest, directory

    @classmethod
    def load(cls, index_dir: Path, verify: bool = True) -> "IndexStore":
        build = resolve_build(index_dir)
        manifest = read_manifest(index_dir)
        rebuild = "rebuild it with: python -m bot build"
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexUnavailable(f"index in {build} has format {manifest.get('format_version')}, this ipbot reads {FORMAT_VERSION}; {rebuild}")
        if verify:
            damaged = damaged_files(index_dir)
            if damaged:
                raise IndexUnavailable(f"index files are missing or damaged ({', '.join(damaged)}); {rebuild}")
        try:
            chunks = [Chunk(**json.loads(line)) for line in (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
            documents = {d["doc_id"]: Document(**d) for d in json.loads((build / "documents.json").read_text(encoding="utf-8"))}
            dense, lexical, parts = DenseIndex.load(build), LexicalIndex.load(build), PartIndex.load(build)
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            raise IndexUnavailable(f"index in {build} cannot be read ({exc}); {rebuild}") from exc
        if dense.index.ntotal != len(chunks) or (parts and (parts.dense.index.ntotal != len(parts.owners)
                                                              or parts.owners.max(initial=-1) >= len(chunks))):
            raise IndexUnavailable(f"index in {build} is inconsistent ({dense.index.ntotal} vectors, {len(chunks)} chunks); {rebuild}")
        return cls(manifest, documents, chunks, dense, lexical, build, parts)
