"""A growing corpus: incremental rebuilds, add/remove, region preference, upload from the page."""

from __future__ import annotations

import html

import os
import pty
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bot import IndexUnavailable, Retriever, build_index
from bot.build import local_embedder
from bot.places import REGIONS
from bot.index import CURRENT, resolve_build

from conftest import CORPUS, ROOT, AppServer, run_cli

WEIHAI = "威海市对发明专利给予资助，每件5000元。威海市专利质押贷款贴息比例为50%。威海市高价值专利培育中心每家奖励20万元。"
QUESTIONS = ["烟台有多少个院士工作站", "崂山区的万人发明专利拥有量是多少", "威海发明专利资助多少钱",
             "郑州有多少企业拿到了质押贷款补贴", "新旧动能转换专利库2022年要达到多少件", "科信贷今年帮多少企业贷到了款"]


@pytest.fixture
def corpus_copy(tmp_path):
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


def _state(index_dir):
    r = Retriever.load(index_dir)
    chunks = [(c.doc_id, c.start, c.end, c.text) for c in r.store.chunks]
    vectors = r.store.dense.index.reconstruct_n(0, r.store.dense.index.ntotal)
    results = [[(h.doc_id, h.start) for h in r.search(q, k=5)] for q in QUESTIONS]
    return chunks, vectors, results


def test_incremental_rebuild_equals_full_rebuild(corpus_copy, tmp_path, encoder):
    inc = tmp_path / "incremental"
    first = build_index(corpus_copy, inc, progress=False)
    assert first.embedded == first.chunks and first.reused == 0
    live = (inc / CURRENT).resolve()
    again = build_index(corpus_copy, inc, progress=False)  # nothing changed: the live index stays
    assert again.unchanged and again.chunks == first.chunks and (inc / CURRENT).resolve() == live
    forced = build_index(corpus_copy, inc, progress=False, force=True)  # rebuilt, every vector from the cache
    assert forced.embedded == 0 and forced.reused == forced.chunks and not forced.unchanged
    assert not (forced.added or forced.changed or forced.removed) and (inc / CURRENT).resolve() != live
    # add one document, change one, remove one
    (corpus_copy / "weihai.txt").write_text(WEIHAI, encoding="utf-8")
    changed = corpus_copy / "yantai-ip-operation-projects-2023-02.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\n烟台市新增一条测试政策：专利转化奖励每项3万元。\n", encoding="utf-8")
    (corpus_copy / "national-ip-service-clusters-zh-hant.txt").unlink()
    stats = build_index(corpus_copy, inc, progress=False)
    assert stats.added == ["weihai.txt"]
    assert stats.changed == ["yantai-ip-operation-projects-2023-02.txt"]
    assert "national-ip-service-clusters-zh-hant.txt" in stats.removed
    assert 0 < stats.embedded < stats.chunks // 2
    full = build_index(corpus_copy, tmp_path / "full", progress=False)
    assert full.embedded == full.chunks
    inc_chunks, inc_vecs, inc_results = _state(inc)
    full_chunks, full_vecs, full_results = _state(tmp_path / "full")
    assert inc_chunks == full_chunks
    assert np.allclose(inc_vecs, full_vecs, atol=1e-4)
    assert inc_results == full_results
    assert "national-ip-service-clusters-zh-hant.txt" not in Retriever.load(inc).documents


def test_interrupted_build_keeps_its_batches_and_embedders_plug_in(corpus_copy, tmp_path, settings):
    """Batches are cached as they are embedded: a build that dies midway loses nothing, and the next
    build sends only the missing passages to whatever embedder it is given."""
    idx, local, sizes = tmp_path / "idx", local_embedder(settings), []

    def dies_after_one_batch(texts):
        if sizes:
            raise KeyboardInterrupt
        sizes.append(len(texts))
        return local(texts)

    with pytest.raises(KeyboardInterrupt):
        build_index(corpus_copy, idx, progress=False, embedder=dies_after_one_batch, build_batch=16)
    assert sizes == [16]
    with pytest.raises(IndexUnavailable):
        resolve_build(idx)  # nothing half-built went live

    def counted(texts):
        sizes.append(len(texts))
        return local(texts)

    sizes.clear()
    stats = build_index(corpus_copy, idx, progress=False, embedder=counted, build_batch=16)
    assert stats.reused == 16 and stats.embedded == stats.chunks - 16 == sum(sizes)
    assert max(sizes) <= 16
    assert Retriever.load(idx).search("烟台有多少个院士工作站", k=1)[0].doc_id.startswith("yantai")


def test_build_shows_progress_on_a_terminal_only(corpus_copy, tmp_path, encoder):
    args = [sys.executable, "-m", "bot", "build", "--corpus", str(corpus_copy), "--index", str(tmp_path / "idx")]
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=follower, env={**os.environ, "IPBOT_BUILD_BATCH": "16"})
    os.close(follower)
    seen = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the build exited and closed the terminal
            break
        if not data:
            break
        seen += data
    os.close(leader)
    assert proc.wait(timeout=600) == 0
    bar = seen.decode("utf-8", "replace")
    assert "5/5 files" in bar and "passages/s" in bar and "ETA" in bar, bar[-500:]
    piped = run_cli("build", "--corpus", str(corpus_copy), "--index", str(tmp_path / "idx"), "--force")
    assert piped.returncode == 0 and "embedded 0" in piped.stdout
    assert "passages/s" not in piped.stderr and "files" not in piped.stderr


def test_cli_add_and_remove(corpus_copy, tmp_path, encoder):
    idx = tmp_path / "idx"
    new = tmp_path / "weihai.txt"
    new.write_text(WEIHAI, encoding="utf-8")
    out = run_cli("add", str(new), "--corpus", str(corpus_copy), "--index", str(idx))
    assert out.returncode == 0, out.stderr
    assert "corpus/weihai.txt" in out.stdout
    assert Retriever.load(idx).search("威海发明专利资助", k=1)[0].doc_id == "weihai.txt"
    out = run_cli("remove", "weihai", "--corpus", str(corpus_copy), "--index", str(idx))
    assert out.returncode == 0 and "removed weihai.txt" in out.stdout and "embedded 0" in out.stdout
    assert "weihai.txt" not in Retriever.load(idx).documents
    out = run_cli("remove", "weihai", "--corpus", str(corpus_copy), "--index", str(idx))
    assert out.returncode == 2 and "no document with id" in out.stderr
    bad = tmp_path / "virus.exe"
    bad.write_bytes(b"MZ")
    out = run_cli("add", str(bad), "--corpus", str(corpus_copy), "--index", str(idx))
    assert out.returncode == 2 and "unsupported type" in out.stderr


def test_question_naming_a_region_prefers_it(retriever):
    for question, region in (("烟台的知识产权质押融资怎么样", "烟台"), ("青岛崂山的专利导航", "青岛/崂山")):
        assert [h.region for h in retriever.search(question, k=4)] == [region] * 4, question
    # a province's question: its own documents first, then only places inside it (崂山's patent
    # insurance loans outrank provincial articles that do not mention insurance at all)
    shandong = {r for r in REGIONS.values() if r != "全国"}
    hits = retriever.search("山东的专利保险补贴", k=4)
    assert hits[0].region == "山东" and {h.region for h in hits} <= shandong


def test_upload_from_the_page_is_answerable_right_after(corpus_copy, tmp_path, encoder):
    from gradio_client import Client, handle_file

    idx = tmp_path / "idx"
    build_index(corpus_copy, idx, progress=False)
    server = AppServer(["--corpus", str(corpus_copy), "--index", str(idx)], tmp_path / "app.log").wait_ready()
    try:
        client = Client(server.url, verbose=False)
        assert not client.predict("威海高价值专利培育中心每家奖励多少", api_name="/ask")["answered"]
        doc = tmp_path / "upload" / "weihai-policy.md"
        doc.parent.mkdir()
        doc.write_text("---\ntitle: 威海市知识产权资助办法\ndate: 2024-05-06\nregion: 威海\ndoc_type: 政策文件\n---\n" + WEIHAI,
                       encoding="utf-8")
        status = html.unescape(client.predict([handle_file(str(doc))], api_name="/upload")[0])  # names are escaped
        assert "已添加 weihai-policy.md" in status
        ans = client.predict("威海高价值专利培育中心每家奖励多少", api_name="/ask")
        assert ans["answered"] and "20万元" in ans["text"]
        assert ans["citations"][0]["title"] == "威海市知识产权资助办法"
        hits = client.predict("专利资助", 5, "", "", "政策文件", "2024", "", api_name="/search")
        assert hits and {h["doc_id"] for h in hits} == {"weihai-policy.md"}
        bad = tmp_path / "upload" / "run.sh"
        bad.write_text("echo hi", encoding="utf-8")
        with pytest.raises(Exception, match="Invalid file type"):  # refused by the upload component
            client.predict([handle_file(str(bad))], api_name="/upload")
        assert not (corpus_copy / "run.sh").exists()
        status = client.predict([], api_name="/upload")[0]
        assert "请先选择" in status
    finally:
        server.stop()
    assert (corpus_copy / "weihai-policy.md").is_file()
    assert resolve_build(idx).is_dir()


def test_build_progress_counts_passages_as_the_index_does(tmp_path, encoder):
    # each 款 of a long article gets a vector too; the page said 已处理 4699 个段落 while the
    # finished index had 2,510: progress now counts passages, each with its 款
    law = "# 某某市专利保护条例\n\n## 第一章 总则\n\n" + "\n\n".join(
        f"第{n}条 单位和个人申请专利资助的，应当向市知识产权局提出，并提交有关材料。\n\n"
        f"市知识产权局应当自收到申请之日起{n}十日内审核，符合条件的予以资助。\n\n"
        f"申请人对审核结果有异议的，可以自收到通知之日起{n}十日内申请复核。" for n in "一二三四五六")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "law.md").write_text(law, encoding="utf-8")
    seen: list[tuple[int, int]] = []
    stats = build_index(tmp_path / "corpus", tmp_path / "idx", progress=False, build_batch=4,
                        report=lambda done, total: seen.append((done, total)))
    assert Retriever.load(tmp_path / "idx").store.parts is not None  # the 款 have vectors
    assert {total for _, total in seen} == {stats.chunks} and seen[-1][0] == stats.chunks
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
