"""Building on a Ray cluster (a local 2-CPU one started here) gives the local build's index."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time

import numpy as np
import psutil
import pytest
import ray

from bot import Retriever, Settings, build_index, build_index_on_ray
from bot.distributed import RayEngine, job_runtime_env
from bot.embedding import encode, load_encoder
from bot.index import resolve_build

from conftest import CORPUS, run_cli

SEED = ["qingdao-laoshan-ip-pilot-zone-2022-04", "national-ip-service-clusters-zh-hant"]
QUESTIONS = ["崂山区的万人发明专利拥有量是多少", "國家知識產權服務業集聚發展區有哪些", "专利导航", "知识产权服务"]


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance with 2 CPUs, stopped (with all its processes) at the end."""
    started = time.time()
    ray.init(num_cpus=2, include_dashboard=False, runtime_env=job_runtime_env(local=Settings.from_env()),
             logging_level="WARNING", _node_ip_address="127.0.0.1")  # loopback only
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
    assert not _ray_processes(started), "Ray processes outlived ray.shutdown()"


LAW = "# 测试市专利资助条例\n\n第一条 为了促进专利创造和运用，制定本条例。\n\n第二条 本条例适用于本市行政区域内的专利资助。\n\n" \
      "第三条 发明专利每件资助{amount}元。\n\n第四条 本条例自{year}年1月1日起施行。\n"


@pytest.fixture
def corpus(tmp_path):
    """Two seed pages, two versions of a small law that share two articles, one unreadable file."""
    dest = tmp_path / "corpus"
    (dest / "laws").mkdir(parents=True)
    for stem in SEED:
        for path in CORPUS.glob(stem + ".*"):
            shutil.copy(path, dest / path.name)
    for year, amount in (("2010", "三千"), ("2020", "五千")):
        (dest / "laws" / f"测试市专利资助条例({year}-01-01).md").write_text(LAW.format(year=year, amount=amount), encoding="utf-8")
    (dest / "broken.txt").write_bytes(b"\x00\x01 not text")  # skipped, with the same reason on both
    return dest


def _ray_processes(since: float) -> list[psutil.Process]:
    """Ray processes (raylet, GCS, workers, also orphaned ones) started since ``since``, after
    giving them 20 s to exit."""
    deadline = time.time() + 20
    while True:
        alive = [p for p in psutil.process_iter() if _started(p) >= since and
                 any(name in " ".join(_cmdline(p)) for name in ("ray::", "raylet", "gcs_server", "ray/_private"))]
        if not alive or time.time() > deadline:
            return alive
        time.sleep(0.5)


def _started(p: psutil.Process) -> float:
    try:
        return p.create_time()
    except psutil.Error:
        return 0.0


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def _state(index_dir):
    r = Retriever.load(index_dir)
    chunks = [c.to_dict() for c in r.store.chunks]
    docs = {k: d.to_dict() for k, d in r.documents.items()}
    vectors = r.store.dense.index.reconstruct_n(0, r.store.dense.index.ntotal)
    results = [[(h.doc_id, h.start, h.end) for h in r.search(q, k=5)] for q in QUESTIONS]
    return chunks, docs, vectors, results


def test_ray_build_equals_local_build_and_honours_the_cache(cluster, corpus, tmp_path, encoder):
    local = build_index(corpus, tmp_path / "local", progress=False)
    on_ray = build_index_on_ray(corpus, tmp_path / "ray", progress=False)
    assert (on_ray.documents, on_ray.chunks, on_ray.duplicates) == (local.documents, local.chunks, local.duplicates)
    assert on_ray.skipped == local.skipped and len(local.skipped) == 1 and "NUL" in local.skipped[0][1]
    assert on_ray.embedded == on_ray.chunks > 20
    chunks, docs, vectors, results = _state(tmp_path / "ray")
    local_chunks, local_docs, local_vectors, local_results = _state(tmp_path / "local")
    assert chunks == local_chunks and docs == local_docs
    assert np.allclose(vectors, local_vectors, atol=1e-4)
    assert results == local_results and all(results)
    # the shared articles are the current version's on both (versions are ordered after all files are read)
    shared = [c for c in chunks if "制定本条例" in c["text"]]
    assert len(shared) == 1 and shared[0]["doc_id"].endswith("(2020-01-01).md") and on_ray.duplicates >= 2

    # cached passages are not sent to the cluster: nothing new, nothing embedded
    again = build_index_on_ray(corpus, tmp_path / "ray", progress=False, force=True)
    assert again.embedded == 0 and again.reused == again.chunks and not again.unchanged
    # one document changed: only its new passages go to the cluster, and the result equals a full local build
    changed = corpus / f"{SEED[0]}.html"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n<p>崂山区新增专利转化奖励，每项3万元。</p>\n", encoding="utf-8")
    inc = build_index_on_ray(corpus, tmp_path / "ray", progress=False)
    assert 0 < inc.embedded <= 3 and inc.changed == [changed.name]
    build_index(corpus, tmp_path / "local", progress=False)
    chunks, docs, vectors, results = _state(tmp_path / "ray")
    local_chunks, local_docs, local_vectors, local_results = _state(tmp_path / "local")
    assert chunks == local_chunks and docs == local_docs and results == local_results
    assert np.allclose(vectors, local_vectors, atol=1e-4)
    assert any("3万元" in c["text"] for c in chunks)


def test_killed_encoder_is_restarted_and_its_batches_rerun(cluster, settings):
    texts = [f"第{i}条 烟台市对发明专利给予资助，每件{i * 100}元；专利质押贷款贴息比例为{i % 50}%。" for i in range(600)]
    # the torch encoder: slow enough to be caught mid-job, and its memory shows when the model is loaded
    run = settings.replace(ray_encoders=1, ray_batch_size=2, encoder="torch")
    killed: list[int] = []
    done = threading.Event()

    def kill_encoder_once_loaded() -> None:
        while not done.is_set():
            workers = [p for p in psutil.Process().children(recursive=True) if "MapBatches(Encoder)" in " ".join(_cmdline(p))]
            loaded = [p for p in workers if p.memory_info().rss > 600 * 2**20]  # the model is in memory
            if loaded:
                time.sleep(0.3)  # let it embed a few batches
                if done.is_set():
                    return
                try:
                    os.kill(loaded[0].pid, signal.SIGKILL)
                except ProcessLookupError:  # that worker was gone already: look again
                    continue
                killed.append(loaded[0].pid)
                return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_encoder_once_loaded)
    killer.start()
    try:
        parts = list(RayEngine().embed(texts, run))
    finally:
        done.set()
        killer.join()
    assert killed, "the encoder finished before it could be killed; nothing was tested"
    positions = np.concatenate([p for p, _ in parts])
    assert sorted(positions.tolist()) == list(range(len(texts)))
    vectors = np.zeros((len(texts), parts[0][1].shape[1]), dtype=np.float32)
    for p, v in parts:
        vectors[p] = v
    assert not psutil.pid_exists(killed[0]) or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    assert np.allclose(vectors, encode(load_encoder(settings=run), texts, "passage"), atol=1e-4)


def test_cli_joins_a_cluster_and_a_failed_build_keeps_the_previous_index(cluster, corpus, tmp_path, encoder):
    idx = tmp_path / "idx"
    out = run_cli("build", "--ray", cluster, "--corpus", str(corpus), "--index", str(idx))
    assert out.returncode == 0, out.stderr
    summary = re.search(r"indexed 4 documents as (\d+) chunks .* embedded (\d+), reused 0", out.stdout)
    assert summary and summary[1] == summary[2], out.stdout
    live = resolve_build(idx)
    # an encoder that cannot load its model fails the build in one line; the previous index stays live
    out = run_cli("build", "--ray", cluster, "--corpus", str(corpus), "--index", str(idx), "--model", str(tmp_path / "no-model"))
    assert out.returncode == 2
    assert "error: embedding on the Ray cluster failed" in out.stderr and "Traceback" not in out.stderr
    assert resolve_build(idx) == live
    assert Retriever.load(idx).search(QUESTIONS[0], k=1)
