"""Building on Ray: the shipped news pages on a local 2-CPU Ray instance, 1 versus 2 encoder actors.

``python -m bench.ray_build [ROUNDS]``. Every build starts from an empty index folder (nothing in
the embedding cache), so all passages go to the encoders; each Dataset execution starts its
actors, and each actor loads the model, so the figures include that start-up. The local build
runs in this process with the model already loaded, as a floor.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, table, write_section
from bot import build_index
from bot.config import Settings
from bot.distributed import build_index_on_ray, ray_session
from bot.embedding import load_encoder


def _median_build(rounds: int, build) -> tuple[float, int]:
    """Median wall seconds of ``rounds`` builds into fresh folders, and the chunk count."""
    times, chunks = [], 0
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            chunks = build(Path(tmp)).chunks
            times.append(time.perf_counter() - t0)
    return statistics.median(times), chunks


def main(argv: list[str] | None = None) -> None:
    rounds = int((argv or sys.argv[1:] or ["3"])[0])
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp)
        for path in ROOT.joinpath("corpus").glob("*.*"):  # the news pages, not the law shelf in corpus/laws
            shutil.copy(path, corpus / path.name)
        _run(Settings.from_env(corpus_dir=corpus, ray_batch_size=8), rounds)  # 8: enough batches for 2 encoders


def _run(settings: Settings, rounds: int) -> None:
    load_before = os.getloadavg()[0]
    load_encoder(settings=settings)
    local_s, chunks = _median_build(rounds, lambda d: build_index(settings.corpus_dir, d, settings=settings, progress=False))
    rows = [["local build (this process, model loaded)", "–", f"{local_s:.1f}", f"{chunks / local_s:.1f}"]]
    t0 = time.perf_counter()
    import ray

    with ray_session(None, None, settings):
        init_s = time.perf_counter() - t0
        cpus = int(ray.cluster_resources().get("CPU", 0))
        for encoders in (1, 2):
            run = settings.replace(ray_encoders=encoders)
            secs, chunks = _median_build(rounds, lambda d: build_index_on_ray(run.corpus_dir, d, settings=run, progress=False))
            rows.append([f"Ray, {encoders} encoder actor(s) x 1 CPU", encoders, f"{secs:.1f}", f"{chunks / secs:.1f}"])
    body = "\n\n".join([
        f"The shipped news pages ({chunks} passages, without corpus/laws) on a local Ray instance ({cpus} CPUs; starting it took {init_s:.1f} s, "
        f"not counted below), {os.cpu_count()} cores; median of {rounds} builds, each into an empty index folder so "
        "every passage is embedded. A Ray build includes reading and chunking tasks, starting the encoder actors and "
        "loading the model in each. The machine was shared with other agents' work while this ran "
        f"(1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores).",
        table(["build", "encoders", "seconds", "passages/s"], rows),
        "Command: `python -m bench.ray_build`",
    ])
    write_section("Building on Ray", body)


if __name__ == "__main__":
    main()
