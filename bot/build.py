"""Building the index from the corpus: read, chunk, embed, index, then swap in atomically.

Embedding is nearly all of a build, so it streams: passages go to the encoder in batches of
``Settings.build_batch``, each batch's vectors are stored in the embedding cache as soon as they
exist (a killed build resumes where it stopped) and written into one preallocated array, so
memory grows only by the vectors themselves. Who embeds is pluggable (:data:`Embedder`): the
local encoder by default, or any function from passage texts to unit vectors, e.g. a cluster;
:func:`assemble` turns chunks and vectors into the FAISS + BM25 store either way.

One build at a time per index folder, across processes (the CLI, the page, a second app):
every build and every corpus change holds :func:`index_lock`, a file lock in the index folder.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Protocol
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout

from .cache import EmbeddingCache, text_key
from .chunking import Chunk, chunk_documents
from .config import Settings
from .corpus import DOC_ID_SCHEME, CorpusError, Document, corpus_files, load_corpus
from .embedding import encode, load_encoder
from .hashing import sha256_file
from .index import (CURRENT, FORMAT_VERSION, DenseIndex, IndexStore, IndexUnavailable, LexicalIndex, PartIndex, damaged_files,
                    read_manifest)
from .statute import file_date, supersessions
from .text import tokenize

log = logging.getLogger(__name__)

# Bumped when reading or chunking changes what an index holds for the same files (2: legal
# documents without articles get their doc type; 3: 第五十條 and 第 50 条 mark articles, a
# statute's text dates it over a PDF's or Word file's properties, 关于印发《…办法》的通知 is typed
# and placed by the rules it carries, text outside articles (附件) is indexed, a web page is named by
# its <h1>/<title>, its furniture (首页 >, 打印本页) is dropped and its table cells kept apart, and a page is filed
# under a city its title names; 4: each 款 of an article that has several is embedded too; 5: laws as
# they come from other sources (government-site text, Word, PDF) are read like the shipped ones:
# <law names> in angle brackets kept, tables of contents, hard wraps and page furniture dropped,
# one-line histories and promulgation orders dated; 6: a policy notice's passages are cut at its section
# headings (一、申报条件) and carry them, table cells name their column), so indexes built before are rebuilt.
INGEST_VERSION = 6
MAX_SKIPPED_LISTED = 200  # skipped files (with reasons) kept in the manifest for up-to-date builds

Embedder = Callable[[list[str]], np.ndarray]
"""Passage texts -> float32 unit vectors, one row per text (only texts missing from the cache)."""

LOCK_FILE = ".build.lock"


class IndexBusy(RuntimeError):
    """Another build of the same index is running and did not finish in time."""


@contextmanager
def index_lock(index_dir: Path, timeout: float) -> Iterator[None]:
    """Hold the index folder's build lock (re-entrant in one thread), waiting up to ``timeout``
    seconds for another build or corpus change to finish."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir.resolve() / LOCK_FILE), is_singleton=True)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another build of %s is running; waiting up to %.0fs", index_dir, timeout)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise IndexBusy(f"another build of {index_dir} is still running after {timeout:.0f}s; "
                            "try again when it has finished") from None
    try:
        yield
    finally:
        lock.release()


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
    unchanged: bool = False  # nothing to do: the live index was built from this corpus, so it stays

    def summary(self) -> str:
        if self.unchanged:
            text = (f"index in {self.index_dir} is up to date ({self.documents} documents, {self.chunks} chunks; "
                    "nothing changed since it was built; --force rebuilds it anyway)")
            return text + (f"; skipped {len(self.skipped)} file(s)" if self.skipped else "")
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


def corpus_digests(corpus_dir: Path) -> dict[str, str]:
    """Hash of every corpus file and sidecar, to tell whether the index is stale."""
    corpus_dir = Path(corpus_dir)
    sidecars = {p for p in corpus_dir.rglob("*.meta.yaml")
                if not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)}
    paths = set(corpus_files(corpus_dir)) | sidecars
    return {p.relative_to(corpus_dir).as_posix(): _digest(p) for p in sorted(paths) if p.is_file()}


def _digest(path: Path) -> str:
    """A file's hash, or a marker for one that cannot be read (load_corpus reports why)."""
    try:
        return sha256_file(path)
    except OSError:
        return "unreadable"


def stale_reason(corpus_dir: Path, index_dir: Path, settings: Settings) -> str | None:
    """Why the index must be (re)built before use, or ``None`` when it is up to date."""
    try:
        manifest = read_manifest(index_dir)
    except IndexUnavailable:
        return "no index yet"
    return _stale(manifest, corpus_digests(corpus_dir), settings)


def _stale(manifest: dict, digests: dict[str, str], settings: Settings) -> str | None:
    if manifest.get("format_version") != FORMAT_VERSION:
        return "index format changed"
    if manifest.get("doc_ids") != DOC_ID_SCHEME:
        return "document ids changed (now the file path with its extension)"
    if manifest.get("ingest_version") != INGEST_VERSION:
        return "documents are read differently by this version"
    if manifest.get("settings") != settings.index_settings():
        return "index settings or model changed"
    if manifest.get("corpus") != digests:
        return "corpus changed"
    return None


class Engine(Protocol):
    """Where reading, chunking and embedding run when not in this process (a Ray cluster:
    :class:`bot.distributed.RayEngine`). The index is assembled here, identically, either way."""

    def read_and_chunk(self, corpus_dir: Path, settings: Settings) -> tuple[list[Document], list[tuple[str, str]], list[Chunk], int]:
        """Documents, skipped ``(file, reason)``, numbered unique chunks, duplicates dropped."""
        ...

    def embed(self, texts: list[str], settings: Settings) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Passage vectors for ``texts`` as ``(positions in texts, vectors)`` parts, in the order they finish."""
        ...


def read_and_chunk(corpus_dir: Path, settings: Settings) -> tuple[list[Document], list[tuple[str, str]], list[Chunk], int]:
    """The local reading and chunking: documents, skipped files, unique chunks, duplicates dropped."""
    docs, skipped = load_corpus(corpus_dir, settings)
    docs = mark_versions(docs)
    chunks, duplicates = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap, settings.min_chunk_chars,
                                         settings.article_chunk_size)
    return docs, skipped, chunks, duplicates


def engine_embedder(engine: Engine, settings: Settings) -> Embedder:
    """An :data:`Embedder` over an engine's parts, put back in the order of the texts."""
    def embed(texts: list[str]) -> np.ndarray:
        parts = list(engine.embed(texts, settings))
        vectors = np.empty((len(texts), parts[0][1].shape[1]), dtype=np.float32)
        for positions, part in parts:
            vectors[np.asarray(positions, dtype=int)] = part
        return vectors
    return embed


def build_index(corpus_dir: str | Path = "corpus", index_dir: str | Path = "index", settings: Settings | None = None,
                progress: bool = True, report: ProgressFn | None = None, embedder: Embedder | None = None,
                engine: Engine | None = None, force: bool = False, **overrides: object) -> BuildStats:
    """Build the hybrid index for ``corpus_dir`` into ``index_dir`` and make it live atomically.

    ``progress`` shows a bar (files, passages, passages/s, ETA) when stderr is a terminal;
    ``report(done, total)`` is called as passages are embedded (the web page shows it while the
    first build runs). ``embedder`` replaces the local encoder for passages missing from the
    embedding cache. Keyword overrides are any :class:`Settings` field (``chunk_size=400``, ``model=...``).
    Waits for another build of the same index (:class:`IndexBusy` after ``settings.lock_timeout``).
    ``engine`` runs reading, chunking and embedding elsewhere (see :mod:`bot.distributed`).
    When the live index was built from the same corpus files with the same settings by this
    version, nothing is rebuilt (``force`` rebuilds anyway).
    """
    settings = (settings or Settings.from_env()).replace(**overrides)
    if engine is not None:
        embedder = embedder or engine_embedder(engine, settings)
    with index_lock(Path(index_dir), settings.lock_timeout):
        return _build(Path(corpus_dir), Path(index_dir), settings, progress, report, embedder, engine, force)


def _build(corpus_dir: Path, index_dir: Path, settings: Settings, progress: bool, report: ProgressFn | None,
           embedder: Embedder | None, engine: Engine | None, force: bool = False) -> BuildStats:
    t0 = time.perf_counter()
    digests = corpus_digests(corpus_dir) if corpus_dir.is_dir() else {}
    try:
        manifest = read_manifest(index_dir)
    except IndexUnavailable:
        manifest = {}
    if manifest and not force and digests and _stale(manifest, digests, settings) is None and not damaged_files(index_dir):
        counts = manifest.get("counts", {})
        log.info("index in %s is up to date", index_dir)
        return BuildStats(counts.get("documents", 0), counts.get("chunks", 0), counts.get("duplicates", 0),
                          time.perf_counter() - t0, index_dir, [tuple(x) for x in manifest.get("skipped", [])],
                          reused=counts.get("chunks", 0), unchanged=True)
    previous = manifest.get("corpus", {})
    docs, skipped, chunks, duplicates = (engine.read_and_chunk if engine else read_and_chunk)(corpus_dir, settings)
    if not chunks:
        raise CorpusError("the corpus produced no passages to index")
    log.info("%d documents -> %d chunks", len(docs), len(chunks))
    cache = EmbeddingCache.for_index(index_dir)
    try:
        vectors, parts, embedded = embed_chunks(chunks, cache, settings, embedder or local_embedder(settings),
                                         progress and sys.stderr.isatty(), report)
    finally:
        cache.close()
    store = assemble(docs, chunks, vectors, settings, index_dir, parts)
    store.manifest.update(corpus=digests, counts={"documents": len(docs), "chunks": len(chunks),
                                                  "duplicates": duplicates, "skipped": len(skipped)},
                          skipped=[list(s) for s in skipped[:MAX_SKIPPED_LISTED]])
    _save_atomically(store, index_dir)
    return BuildStats(
        len(docs), len(chunks), duplicates, time.perf_counter() - t0, index_dir, skipped,
        added=sorted(set(digests) - set(previous)),
        changed=sorted(f for f in digests if f in previous and previous[f] != digests[f]),
        removed=sorted(set(previous) - set(digests)),
        embedded=embedded, reused=len(chunks) - embedded,
    )


def local_embedder(settings: Settings) -> Embedder:
    """Embeds on this machine with the configured encoder, loaded on first use (a rebuild that
    finds every passage in the cache never loads the model)."""
    return lambda texts: encode(load_encoder(settings=settings), texts, "passage", batch_size=settings.embed_batch_size)


def cache_namespace(settings: Settings) -> str:
    """Vectors are cached per model and backend: int8 and float32 vectors are never mixed."""
    return f"{settings.model}:{settings.encoder}"


def embed_chunks(chunks: list[Chunk], cache: EmbeddingCache, settings: Settings, embedder: Embedder,
                 progress: bool, report: ProgressFn | None = None) -> tuple[np.ndarray, PartIndex | None, int]:
    """Vectors for ``chunks`` in order, and for the 款 of their articles, batch by batch:
    cached ones reused, the rest embedded and cached at once. Each passage's 款 follow it, so
    the progress reported counts passages, as the finished index does. Returns the passages'
    vectors, the parts' index, and how many passages were embedded."""
    namespace = cache_namespace(settings)
    texts, owners = [], []  # owners: the passage a text is a part of; -1 for a passage
    for i, c in enumerate(chunks):
        parts = c.parts()
        texts += [c.embedding_text(), *parts]
        owners += [-1] + [i] * len(parts)
    owner_of = np.array(owners, dtype=np.int64)
    passages_upto = np.cumsum(owner_of < 0)  # passages among the first n + 1 texts
    keys = [text_key(t) for t in texts]
    vectors: np.ndarray | None = None
    embedded = 0
    with _Bar([c.doc_id for c in chunks], progress) as bar:
        for start in range(0, len(texts), settings.build_batch):
            batch_keys = keys[start : start + settings.build_batch]
            found = cache.get(namespace, batch_keys)
            missing = [i for i, k in enumerate(batch_keys) if k not in found]
            if missing:
                fresh = np.asarray(embedder([texts[start + i] for i in missing]), dtype=np.float32)
                if fresh.shape[0] != len(missing):
                    raise RuntimeError(f"the embedder returned {fresh.shape[0]} vectors for {len(missing)} passages")
                new = {batch_keys[i]: fresh[j] for j, i in enumerate(missing)}
                cache.put(namespace, new)
                found.update(new)
                embedded += sum(owners[start + i] < 0 for i in missing)  # passages; parts come with them
            if vectors is None:
                vectors = np.empty((len(texts), len(next(iter(found.values())))), dtype=np.float32)
            vectors[start : start + len(batch_keys)] = np.stack([found[k] for k in batch_keys])
            done = int(passages_upto[start + len(batch_keys) - 1])
            bar.advance(done - bar.done)
            if report:
                report(done, len(chunks))
    cache.prune(namespace, set(keys))
    is_part = owner_of >= 0
    part_index = (PartIndex.build(vectors[is_part], owner_of[is_part], settings.flat_index_max, settings.ivf_nlist)
                  if is_part.any() else None)
    return vectors[~is_part], part_index, embedded


class _Bar:
    """Files, passages, passages/s and ETA on one line (tqdm), or nothing."""

    def __init__(self, doc_ids: list[str], enabled: bool) -> None:
        self.files = {d: i for i, d in enumerate(doc_ids)}  # index of each document's last passage
        self.total_files = len(self.files)
        self.done = 0
        self.bar = None
        if enabled:
            from tqdm import tqdm

            size = os.get_terminal_size(sys.stderr.fileno())  # 0 x 0 on a terminal of unknown size: tqdm hides
            self.bar = tqdm(total=len(doc_ids), unit=" passages", ncols=size.columns or 100, nrows=size.lines or 24, leave=False,
                            bar_format="{desc} {bar} {n_fmt}/{total_fmt} passages, {rate_fmt}, ETA {remaining}")

    def advance(self, count: int) -> None:
        self.done += count
        if self.bar is None:
            return
        files = sum(1 for last in self.files.values() if last < self.done)
        self.bar.set_description_str(f"{files}/{self.total_files} files", refresh=False)
        self.bar.update(count)
        self.bar.refresh()  # once per batch: tqdm would skip some to save time

    def __enter__(self) -> "_Bar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def assemble(docs: list[Document], chunks: list[Chunk], vectors: np.ndarray, settings: Settings,
             index_dir: Path, parts: PartIndex | None = None) -> IndexStore:
    """The hybrid store from passages and their vectors: FAISS over the vectors, BM25 over the
    passages' tokens, and a manifest of what built them (callers add the corpus digests)."""
    lexical = LexicalIndex.build(tokenize(c.embedding_text()) for c in chunks)
    dense = DenseIndex.build(vectors, settings.flat_index_max, settings.ivf_nlist)
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": settings.model,
        "doc_ids": DOC_ID_SCHEME,
        "ingest_version": INGEST_VERSION,
        "dimensions": int(vectors.shape[1]),
        "dense_index": dense.kind,
        "settings": settings.index_settings(),
        "built_at": dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
    }
    return IndexStore(manifest, {d.doc_id: d for d in docs}, chunks, dense, lexical, index_dir, parts)


def mark_versions(docs: list[Document]) -> list[Document]:
    """Mark older versions of a law as superseded, and order current documents first so a
    text both versions share is indexed (and cited) as the current version's."""
    newer = supersessions([(d.doc_id, d.title, d.date, bool(file_date(d.path))) for d in docs])
    for doc in docs:
        doc.superseded_by = newer.get(doc.doc_id, "")
    return sorted(docs, key=lambda d: bool(d.superseded_by))


ProgressFn = Callable[[int, int], None]
"""``report(done, total)``: passages with vectors so far, out of all the passages of the build."""


def _save_atomically(store: IndexStore, index_dir: Path) -> None:
    """Write the build beside the live one, then swap the ``current`` link in one rename.

    Runs under the build lock, so no other build is writing: the previous build stays (a
    process may be loading it right now) and only older ones, and folders left by crashed
    builds, are deleted.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    link = index_dir / CURRENT
    previous = link.resolve() if link.is_symlink() else None
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
    os.replace(link_tmp, link)
    store.path = final
    for old in index_dir.iterdir():
        if old.is_symlink() or not old.is_dir() or old.resolve() in (final.resolve(), previous):
            continue
        if old.name.startswith(("build-", ".build-")):
            shutil.rmtree(old, ignore_errors=True)
