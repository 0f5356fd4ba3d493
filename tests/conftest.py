"""Shared fixtures: the real model, a real index built from the shipped corpus, the real app."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
DEV_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"
OWN_SET = ROOT / "eval" / "questions.jsonl"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def settings():
    from bot import Settings

    return Settings.from_env()


@pytest.fixture(scope="session")
def encoder(settings):
    from bot import load_encoder

    return load_encoder(settings=settings)


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, encoder, settings) -> Path:
    from bot import build_index

    path = tmp_path_factory.mktemp("index")
    build_index(CORPUS, path, settings=settings, progress=False)
    return path


@pytest.fixture(scope="session")
def retriever(index_dir, settings):
    from bot import Retriever

    return Retriever.load(index_dir, settings=settings)


@pytest.fixture(scope="session")
def assistant(retriever):
    from bot import Assistant

    return Assistant(retriever)


@pytest.fixture(scope="session")
def dev_questions():
    from bot.evaluation import load_questions

    if not DEV_SET.is_file():
        pytest.skip(f"public dev set not found at {DEV_SET}")
    return load_questions(DEV_SET)


@pytest.fixture(scope="session")
def own_questions():
    from bot.evaluation import load_questions

    return load_questions(OWN_SET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def app_url(index_dir, tmp_path_factory):
    """The real app (python app.py) on a free port, serving the session's index."""
    port = free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--index", str(index_dir)],
            cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"app exited early:\n{log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"app did not start:\n{log.read_text()}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None
