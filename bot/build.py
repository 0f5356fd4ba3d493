"""Building the index from the corpus: read, chunk, embed, index, then swap in atomically.

One build at a time per index folder, across processes (the CLI, the page, a second app):
every build and every corpus change holds :func:`index_lock`, a file lock in the index folder.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from filelock import FileLock, Timeout
from tqdm.auto import tqdm

from .cache import EmbeddingCache, text_key
from .chunking import chunk_documents
from .config import Settings
from .corpus import DOC_ID_SCHEME, CorpusError, Document, corpus_files, load_corpus
from .embedding import encode, load_encoder
from .hashing import sha256_file
from .index import CURRENT, FORMAT_VERSION, DenseIndex, IndexStore, IndexUnavailable, LexicalIndex, read_manifest
from .statute import file_date, supersessions
from .text import tokenize

log = logging.getLogger(__name__)

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


def corpus_digests(corpus_dir: Path) -> dict[str, str]:
    """Hash of every corpus file and sidecar, to tell whether the index is stale."""
    corpus_dir = Path(corpus_dir)
    sidecars = {p for p in corpus_dir.rglob("*.meta.yaml")
                if not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)}
    paths = set(corpus_files(corpus_dir)) | sidecars
    return {p.relative_to(corpus_dir).as_posix(): sha256_file(p) for p in sorted(paths) if p.is_file()}


def stale_reason(corpus_dir: Path, index_dir: Path, settings: Settings) -> str | None:
    """Why the index must be (re)built before use, or ``None`` when it is up to date."""
    try:
        manifest = read_manifest(index_dir)
    except IndexUnavailable:
        return "no index yet"
    if manifest.get("format_version") != FORMAT_VERSION:
        return "index format changed"
    if manifest.get("doc_ids") != DOC_ID_SCHEME:
        return "document ids changed (now the file path with its extension)"
    if manifest.get("settings") != settings.index_settings():
        return "index settings or model changed"
    if manifest.get("corpus") != corpus_digests(corpus_dir):
        return "corpus changed"
    return None


def build_index(corpus_dir: str | Path = "corpus", index_dir: str | Path = "index", settings: Settings | None = None,
                progress: bool = True, report: ProgressFn | None = None, **overrides: object) -> BuildStats:
    """Build the hybrid index for ``corpus_dir`` into ``index_dir`` and make it live atomically.

    ``progress`` shows a bar on a terminal; ``report(done, total)`` is called as passages are
    embedded (the web page shows it while the first build runs). Keyword overrides are any
    :class:`Settings` field (``chunk_size=400``, ``model=...``). Waits for another build of the
    same index (:class:`IndexBusy` after ``settings.lock_timeout``).
    """
    settings = (settings or Settings.from_env()).replace(**overrides)
    with index_lock(Path(index_dir), settings.lock_timeout):
        return _build(Path(corpus_dir), Path(index_dir), settings, progress, report)


def _build(corpus_dir: Path, index_dir: Path, settings: Settings, progress: bool, report: ProgressFn | None) -> BuildStats:
    t0 = time.perf_counter()
    digests = corpus_digests(corpus_dir) if corpus_dir.is_dir() else {}
    try:
        previous = read_manifest(index_dir).get("corpus", {})
    except IndexUnavailable:
        previous = {}
    docs, skipped = load_corpus(corpus_dir)
    docs = mark_versions(docs)
    chunks, duplicates = chunk_documents(docs, settings.chunk_size, settings.chunk_overlap, settings.min_chunk_chars,
                                         settings.article_chunk_size)
    log.info("%d documents -> %d chunks", len(docs), len(chunks))
    texts = [c.embedding_text() for c in chunks]
    cache = EmbeddingCache.for_index(index_dir)
    try:
        vectors, embedded = _vectors(texts, cache, settings, progress, report)
    finally:
        cache.close()
    lexical = LexicalIndex.build([tokenize(t) for t in texts])
    dense = DenseIndex.build(vectors, settings.flat_index_max, settings.ivf_nlist)
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": settings.model,
        "doc_ids": DOC_ID_SCHEME,
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


def _vectors(texts: list[str], cache: EmbeddingCache, settings: Settings, progress: bool,
             report: ProgressFn | None = None) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``: cached ones reused, the rest embedded (the model is loaded only
    when something is new) in slices that are cached as they finish, so an interrupted build
    resumes where it stopped. Returns the vectors and how many were embedded."""
    keys = [text_key(t) for t in texts]
    known = cache.get(settings.model, keys)
    missing = [i for i, k in enumerate(keys) if k not in known]
    if report:
        report(0, len(missing))
    if missing:
        encoder = load_encoder(settings.model, settings)
        # a bar on a terminal only (disable=None), in passages
        with tqdm(total=len(missing), unit="passage", desc="embedding", disable=None if progress else True) as bar:
            for s in range(0, len(missing), EMBED_SLICE):
                part = missing[s : s + EMBED_SLICE]
                fresh = encode(encoder, [texts[i] for i in part], "passage", batch_size=settings.embed_batch_size)
                new = {keys[i]: fresh[j] for j, i in enumerate(part)}
                cache.put(settings.model, new)
                known.update(new)
                bar.update(len(part))
                if report:
                    report(s + len(part), len(missing))
    if not texts:
        raise CorpusError("the corpus produced no passages to index")
    cache.prune(settings.model, set(keys))
    return np.stack([known[k] for k in keys]).astype(np.float32), len(missing)


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
