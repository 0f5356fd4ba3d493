"""Building the index from the corpus: read, chunk, embed, index, then swap in atomically."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

import numpy as np
from tqdm.auto import tqdm

from .cache import EmbeddingCache, text_key
from .chunking import Chunk, chunk_documents
from .config import Settings
from .corpus import CorpusError, Document, corpus_files, load_corpus
from .embedding import encode, load_encoder
from .hashing import sha256_file
from .index import CURRENT, FORMAT_VERSION, DenseIndex, IndexStore, IndexUnavailable, LexicalIndex, read_manifest
from .statute import file_date, supersessions
from .text import tokenize

log = logging.getLogger(__name__)


@dataclass
class BuildStats:
    documents: int
    chunks: int
    duplicates: int
    seconds: float
    index_dir: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # corpus files, relative to the corpus folder
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    embedded: int = 0  # passages embedded in this build
    reused: int = 0  # passages whose vectors came from the embedding cache

    def summary(self) -> str:
        text = (
            f"indexed {self.documents} documents as {self.chunks} chunks "
            f"({self.duplicates} duplicate passages dropped) in {self.seconds:.1f}s -> {self.index_dir}; "
            f"embedded {self.embedded}, reused {self.reused} from cache"
        )
        changes = [f"{label} {', '.join(files) if len(files) <= 5 else f'{len(files)} files'}" for label, files in
                   (("added", self.added), ("changed", self.changed), ("removed", self.removed)) if files]
        text += "; " + ("; ".join(changes) if changes else "no corpus changes")
        if self.skipped:
            text += f"; skipped {len(self.skipped)} file(s): " + "; ".join(f"{f} ({why})" for f, why in self.skipped)
        return text


class Engine(Protocol):
    """Where the heavy steps run: in this process (:class:`LocalEngine`) or on a Ray cluster
    (:class:`bot.distributed.RayEngine`). Either way the index is assembled here, identically."""

    def read_and_chunk(self, corpus_dir: Path, settings: Settings) -> tuple[list[Document], list[tuple[str, str]], list[Chunk], int]:
        """Documents, skipped ``(file, reason)``, numbered unique chunks, duplicates dropped."""
        ...

    def embed(self, texts: list[str], settings: Settings) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Passage vectors for ``texts`` (those missing from the embedding cache), as
        ``(positions in texts, vectors)`` parts in the order they finish."""
        ...


class LocalEngine:
    def read_and_chunk(self, corpus_dir: Path, settings: Settings) -> tuple[list[Document], list[tuple[str, str]], list[Chunk], int]:
        docs, skipped = load_corpus(corpus_dir)
        docs = mark_versions(docs)
        chunks, duplicates = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap, settings.min_chunk_chars,
                                             settings.article_chunk_size)
        return docs, skipped, chunks, duplicates

    def embed(self, texts: list[str], settings: Settings) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        encoder = load_encoder(settings.model, settings)
        for s in range(0, len(texts), EMBED_SLICE):
            part = texts[s : s + EMBED_SLICE]
            yield np.arange(s, s + len(part)), encode(encoder, part, "passage", batch_size=settings.embed_batch_size)


def corpus_digests(corpus_dir: Path) -> dict[str, str]:
    """Hash of every corpus file and sidecar, to tell whether the index is stale."""
    corpus_dir = Path(corpus_dir)
    paths = set(corpus_files(corpus_dir)) | set(corpus_dir.rglob("*.meta.yaml"))
    return {p.relative_to(corpus_dir).as_posix(): sha256_file(p) for p in sorted(paths) if p.is_file()}


def stale_reason(corpus_dir: Path, index_dir: Path, settings: Settings) -> str | None:
    """Why the index must be (re)built before use, or ``None`` when it is up to date."""
    try:
        manifest = read_manifest(index_dir)
    except IndexUnavailable:
        return "no index yet"
    if manifest.get("format_version") != FORMAT_VERSION:
        return "index format changed"
    if manifest.get("settings") != settings.index_settings():
        return "index settings or model changed"
    if manifest.get("corpus") != corpus_digests(corpus_dir):
        return "corpus changed"
    return None


def build_index(corpus_dir: str | Path = "corpus", index_dir: str | Path = "index", settings: Settings | None = None,
                progress: bool = True, report: ProgressFn | None = None, engine: Engine | None = None,
                **overrides: object) -> BuildStats:
    """Build the hybrid index for ``corpus_dir`` into ``index_dir`` and make it live atomically.

    ``progress`` shows a bar on a terminal; ``report(done, total)`` is called as passages are
    embedded (the web page shows it while the first build runs). Keyword overrides are any
    :class:`Settings` field (``chunk_size=400``, ``model=...``). ``engine`` runs reading,
    chunking and embedding elsewhere (see :mod:`bot.distributed`).
    """
    t0 = time.perf_counter()
    settings = (settings or Settings.from_env()).replace(**overrides)
    corpus_dir, index_dir = Path(corpus_dir), Path(index_dir)
    digests = corpus_digests(corpus_dir) if corpus_dir.is_dir() else {}
    try:
        previous = read_manifest(index_dir).get("corpus", {})
    except IndexUnavailable:
        previous = {}
    engine = engine or LocalEngine()
    docs, skipped, chunks, duplicates = engine.read_and_chunk(corpus_dir, settings)
    log.info("%d documents -> %d chunks", len(docs), len(chunks))
    texts = [c.embedding_text() for c in chunks]
    cache = EmbeddingCache.for_index(index_dir)
    try:
        vectors, embedded = _vectors(texts, cache, settings, progress, engine, report)
    finally:
        cache.close()
    lexical = LexicalIndex.build([tokenize(t) for t in texts])
    dense = DenseIndex.build(vectors, settings.flat_index_max, settings.ivf_nlist)
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": settings.model,
        "dimensions": int(vectors.shape[1]),
        "dense_index": dense.kind,
        "settings": settings.index_settings(),
        "corpus": digests,
        "built_at": dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
        "counts": {"documents": len(docs), "chunks": len(chunks), "duplicates": duplicates, "skipped": len(skipped)},
    }
    store = IndexStore(manifest, {d.doc_id: d for d in docs}, chunks, dense, lexical, index_dir)
    _save_atomically(store, index_dir)
    return BuildStats(
        len(docs), len(chunks), duplicates, time.perf_counter() - t0, index_dir, skipped,
        added=sorted(set(digests) - set(previous)),
        changed=sorted(f for f in digests if f in previous and previous[f] != digests[f]),
        removed=sorted(set(previous) - set(digests)),
        embedded=embedded, reused=len(texts) - embedded,
    )


def mark_versions(docs: list[Document]) -> list[Document]:
    """Mark older versions of a law as superseded, and order current documents first so a
    text both versions share is indexed (and cited) as the current version's."""
    newer = supersessions([(d.doc_id, d.title, d.date, bool(file_date(d.path))) for d in docs])
    for doc in docs:
        doc.superseded_by = newer.get(doc.doc_id, "")
    return sorted(docs, key=lambda d: bool(d.superseded_by))


ProgressFn = Callable[[int, int], None]
EMBED_SLICE = 64  # passages embedded between progress reports and cache writes


def _vectors(texts: list[str], cache: EmbeddingCache, settings: Settings, progress: bool, engine: Engine,
             report: ProgressFn | None = None) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``: cached ones reused, the rest embedded by ``engine`` (the model is
    loaded only when something is new) in parts that are cached as they finish, so an
    interrupted build resumes where it stopped. Returns the vectors and how many were embedded."""
    keys = [text_key(t) for t in texts]
    known = cache.get(settings.model, keys)
    missing = [i for i, k in enumerate(keys) if k not in known]
    if report:
        report(0, len(missing))
    if missing:
        # a bar on a terminal only (disable=None), in passages
        with tqdm(total=len(missing), unit="passage", desc="embedding", disable=None if progress else True) as bar:
            done = 0
            for positions, fresh in engine.embed([texts[i] for i in missing], settings):
                part = [missing[p] for p in positions]
                new = {keys[i]: fresh[j] for j, i in enumerate(part)}
                cache.put(settings.model, new)
                known.update(new)
                done += len(part)
                bar.update(len(part))
                if report:
                    report(done, len(missing))
    if not texts:
        raise CorpusError("the corpus produced no passages to index")
    cache.prune(settings.model, set(keys))
    return np.stack([known[k] for k in keys]).astype(np.float32), len(missing)


def _save_atomically(store: IndexStore, index_dir: Path) -> None:
    """Write the build beside the live one, then swap the ``current`` link in one rename."""
    index_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{stamp}-", dir=index_dir))
    try:
        store.save(tmp)
        final = index_dir / f"build-{stamp}-{tmp.name.rsplit('-', 1)[-1]}"
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link_tmp = index_dir / f".{CURRENT}.tmp"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    link_tmp.symlink_to(final.name, target_is_directory=True)
    os.replace(link_tmp, index_dir / CURRENT)
    store.path = final
    for old in index_dir.iterdir():
        if old != final and old.is_dir() and not old.is_symlink() and (old.name.startswith("build-") or old.name.startswith(".build-")):
            shutil.rmtree(old, ignore_errors=True)
