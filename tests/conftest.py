"""Shared fixtures: the real model, a real index built from the shipped corpus, the real app."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "corpus"
# Laws beside the news pages in the session index: two versions of one regulation (version
# ranking), a law and its regulation (two-article answers) and a local regulation. The full
# law shelf takes minutes to embed, so tests use this part of it.
TEST_LAWS = ["专利法(2020-10-17).md", "专利法实施细则(2010-01-09).md", "专利法实施细则(2023-12-11).md",
             "山东省专利条例(2013-08-01).md"]
_WORK = Path(tempfile.mkdtemp(prefix="ipbot-test-corpora-"))
atexit.register(shutil.rmtree, _WORK, True)
CORPUS = _WORK / "news"  # the five shipped news and policy pages
TEST_CORPUS = _WORK / "mixed"  # the news pages and TEST_LAWS under laws/
for _dest in (CORPUS, TEST_CORPUS):
    _dest.mkdir()
    for _src in SHIPPED.glob("*.*"):
        shutil.copy2(_src, _dest / _src.name)
(TEST_CORPUS / "laws").mkdir()
for _name in TEST_LAWS:
    shutil.copy2(SHIPPED / "laws" / _name, TEST_CORPUS / "laws" / _name)
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
    build_index(TEST_CORPUS, path, settings=settings, progress=False)
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
def assistant_over(tmp_path_factory, encoder, settings):
    """An assistant over some shipped laws alone (built once per set of files): subjects the
    session corpus lacks, such as copyright terms or plant varieties."""
    from bot import Assistant, Retriever, build_index

    built = {}

    def make(*names: str):
        if names not in built:
            corpus = tmp_path_factory.mktemp("laws")
            for name in names:
                shutil.copy2(SHIPPED / "laws" / name, corpus)
            path = tmp_path_factory.mktemp("laws-index")
            build_index(corpus, path, settings=settings, progress=False)
            built[names] = Assistant(Retriever.load(path, settings=settings))
        return built[names]

    return make


@pytest.fixture(scope="session")
def copyright_assistant(assistant_over):
    return assistant_over("著作权法(2020-11-11).md")


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


class AppServer:
    """``python app.py`` on a free port, as a user would start it."""

    def __init__(self, args: list[str], log_path: Path, env: dict | None = None) -> None:
        if "--corpus" not in args:  # the corpus the session index was built from (else it is stale)
            args = ["--corpus", str(TEST_CORPUS), *args]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        with log_path.open("w") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "app.py", "--port", str(self.port), *args],
                cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
            )

    def wait_ready(self, timeout: float = 300, answering: bool = True) -> "AppServer":
        """Until the page is served and (``answering``) the index is loaded."""
        from bot.service import READY_LOG

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"app exited early:\n{self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    if not answering or READY_LOG in self.log_path.read_text():
                        return self
            except OSError:
                pass
            time.sleep(0.5)
        pytest.fail(f"app did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def app_server(index_dir, tmp_path_factory):
    """The real app serving the session's index."""
    server = AppServer(["--index", str(index_dir)], tmp_path_factory.mktemp("app") / "app.log")
    try:
        yield server.wait_ready()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_url(app_server) -> str:
    return app_server.url


BROWSER_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch_browser(playwright):
    """Debian's chromium through Playwright (no browser download), or a loud skip."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("NO BROWSER: Debian's chromium is not installed (make test installs it with apt-get); "
                    "the page was not tested in a browser")
    return playwright.chromium.launch(executable_path=exe, args=BROWSER_ARGS)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def send_json(handler, payload: object) -> None:
    """Answer a request of a test ``BaseHTTPRequestHandler`` with a JSON body."""
    import json

    data = json.dumps(payload).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def ask_in_page(page, url: str, question: str, timeout: float = 90_000) -> None:
    """Open the chat page, ask ``question`` and wait until the first source card shows."""
    page.goto(url)
    box = page.locator("#ipbot-input textarea")
    box.wait_for(timeout=60_000)
    box.fill(question)
    box.press("Enter")
    page.locator("details.source-card").first.wait_for(state="visible", timeout=timeout)
