"""The corpus is never lost: safe uploads, permissions, one build at a time, history and restore.

Uploads go through the running page's ``/upload`` endpoint (gradio_client), corpus commands through
``python -m bot``, on copies of two seed documents so builds stay quick.
"""

from __future__ import annotations

import html

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from bot import Retriever, Settings, build_index
from bot.access import Access
from bot.build import LOCK_FILE, stale_reason
from bot.hashing import sha256_file
from bot.index import CURRENT, MANIFEST
from bot.library import Library, safe_name

from conftest import CORPUS, ROOT, AppServer, launch_browser, run_cli

SEEDS = ("yantai-ip-operation-projects-2023-02", "shandong-ip-measures-new-old-drivers-2018")
YANTAI = "yantai-ip-operation-projects-2023-02.txt"
YANTAI_Q = "烟台知识产权证券化产品为科技型中小微企业发款多少"
QUESTIONS = [YANTAI_Q, "烟台什么时候获批国家知识产权运营服务体系建设重点城市", "山东每年遴选多少知识产权运营项目给予支持"]
WEIHAI = "威海市对发明专利给予资助，每件5000元。威海市高价值专利培育中心每家奖励20万元。"


def listing(corpus: Path) -> dict[str, str]:
    """Every file (and link) in the corpus except the library's own folder: name -> content hash."""
    out = {}
    for p in sorted(corpus.rglob("*")):
        rel = p.relative_to(corpus).as_posix()
        if rel.startswith(".library"):
            continue
        if p.is_symlink():
            out[rel] = "link->" + str(p.readlink())
        elif p.is_file():
            out[rel] = sha256_file(p)
    return out


def history(corpus: Path) -> list[dict]:
    path = corpus / ".library" / "history.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.is_file() else []


def results(index: Path) -> list[list[tuple]]:
    r = Retriever.load(index)
    return [[(h.doc_id, h.start, h.end, h.text) for h in r.search(q, k=5)] for q in QUESTIONS]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def seed(tmp_path_factory, encoder) -> Path:
    """Two seed documents and their index, built once; tests work on copies."""
    root = tmp_path_factory.mktemp("seed")
    (root / "corpus").mkdir()
    for name in SEEDS:
        for src in CORPUS.glob(name + ".*"):
            shutil.copy(src, root / "corpus" / src.name)
    build_index(root / "corpus", root / "index", progress=False)
    return root


def copy_seed(seed: Path, dest: Path) -> tuple[Path, Path]:
    shutil.copytree(seed / "corpus", dest / "corpus")
    shutil.copytree(seed / "index", dest / "index", symlinks=True)  # with the embedding cache: quick rebuilds
    return dest / "corpus", dest / "index"


@pytest.fixture
def dirs(seed, tmp_path) -> tuple[Path, Path]:
    return copy_seed(seed, tmp_path)


# ---------------------------------------------------------------- the page, open on this machine

class Web:
    def __init__(self, server: AppServer, corpus: Path, index: Path, uploads_tmp: Path) -> None:
        self.server, self.corpus, self.index, self.uploads_tmp = server, corpus, index, uploads_tmp

    def client(self, **kwargs):
        from gradio_client import Client

        # download_files=False: a hit's "path" (its chapter) would otherwise be taken for a file to fetch
        return Client(self.server.url, verbose=False, download_files=False, **kwargs)

    def upload(self, *paths: Path, client=None) -> str:
        from gradio_client import handle_file

        # the message is Markdown with names escaped as entities (inert on the page); read it as text
        return html.unescape((client or self.client()).predict([handle_file(str(p)) for p in paths], api_name="/upload")[0])

    def ask(self, question: str) -> dict:
        return self.client().predict(question, api_name="/ask")


@pytest.fixture(scope="module")
def web(seed, tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    corpus, index = copy_seed(seed, root)
    uploads_tmp = root / "gradio-tmp"
    server = AppServer(["--corpus", str(corpus), "--index", str(index)], root / "app.log",
                       env={"GRADIO_TEMP_DIR": str(uploads_tmp), "IPBOT_MAX_UPLOAD_FILES": "3"}).wait_ready()
    try:
        yield Web(server, corpus, index, uploads_tmp)
    finally:
        server.stop()


def test_same_name_upload_keeps_the_original(web, tmp_path):
    before = listing(web.corpus)
    one_line = write(tmp_path / YANTAI, "烟台市一条简短的测试消息：专利导航项目补助每项3万元。")
    message = web.upload(one_line)
    assert f"另存为 {YANTAI.replace('.txt', '-2.txt')}" in message and "原文档未改动" in message
    after = listing(web.corpus)
    assert after[YANTAI] == before[YANTAI]  # the 7 KB original is untouched
    assert after[YANTAI.replace(".txt", "-2.txt")] == sha256_file(one_line)
    ans = web.ask(YANTAI_Q)
    assert ans["answered"] and "4.32亿元" in ans["text"]
    hits = web.client().predict("专利", 10, "", YANTAI, "", "", "", api_name="/search")
    assert len(hits) == 10  # all of the original's passages are still there
    entry = history(web.corpus)[-1]
    assert entry["action"] == "add" and entry["requested"] == YANTAI and entry["file"] == YANTAI.replace(".txt", "-2.txt")
    assert entry["sha256"] == sha256_file(one_line) and entry["size"] == one_line.stat().st_size and entry["via"] == "web"
    assert not [p for p in web.uploads_tmp.rglob("*") if p.name == YANTAI]  # Gradio's temp copy is gone


def test_duplicate_upload_is_recognised(web, tmp_path):
    before, logged = listing(web.corpus), len(history(web.corpus))
    copy = tmp_path / "copy-of-shandong.md"
    shutil.copy(web.corpus / f"{SEEDS[1]}.md", copy)
    message = web.upload(copy)
    assert f"未重复添加 copy-of-shandong.md：与已收录的 {SEEDS[1]}.md 内容完全相同" in message
    assert listing(web.corpus) == before and len(history(web.corpus)) == logged


def test_unparsable_upload_is_refused_and_the_corpus_is_unchanged(web, tmp_path):
    before, logged = listing(web.corpus), len(history(web.corpus))
    bad_pdf = tmp_path / "scan.pdf"
    bad_pdf.write_bytes(b"%PDF-1.4 this is not really a pdf")
    binary = tmp_path / "data.txt"
    binary.write_bytes(b"\x00\x01\x02\xff" * 100)
    message = web.upload(bad_pdf, binary)
    assert "未添加 scan.pdf：无法读取其中的文字：PDF 文件已损坏或无法读取" in message
    assert "未添加 data.txt：无法读取其中的文字：无法识别文字编码" in message
    assert "已添加" not in message
    assert listing(web.corpus) == before and len(history(web.corpus)) == logged
    assert not list((web.corpus / ".library" / "staging").rglob("*.*"))


def test_upload_aimed_at_a_symlink_does_not_write_outside(web, tmp_path):
    outside = write(tmp_path / "outside" / "keep.md", "外部文件，不能被改写。")
    (web.corpus / "keep.md").symlink_to(outside)
    ghost_target = tmp_path / "outside" / "ghost.md"
    (web.corpus / "ghost.md").symlink_to(ghost_target)  # dangling
    uploads = tmp_path / "up"
    message = web.upload(write(uploads / "keep.md", "日照市专利质押贷款贴息比例为40%。"),
                         write(uploads / "ghost.md", "东营市专利奖每项奖励6万元。"))
    assert outside.read_text(encoding="utf-8") == "外部文件，不能被改写。" and not ghost_target.exists()
    assert "另存为 keep-2.md" in message and "另存为 ghost-2.md" in message
    for name in ("keep-2.md", "ghost-2.md"):
        assert (web.corpus / name).is_file() and not (web.corpus / name).is_symlink()
    assert "40%" in web.ask("日照市专利质押贷款贴息比例是多少")["text"]


def test_hidden_and_unsafe_names_are_stored_so_they_are_indexed(web, tmp_path):
    message = web.upload(write(tmp_path / ".weihai-hidden.md", WEIHAI))
    assert "保存为 weihai-hidden.md" in message
    assert (web.corpus / "weihai-hidden.md").is_file()
    ans = web.ask("威海高价值专利培育中心每家奖励多少")
    assert ans["answered"] and "20万元" in ans["text"] and ans["citations"][0]["doc_id"] == "weihai-hidden.md"
    assert safe_name("../../etc/passwd.md") == "passwd.md" and safe_name('a<b>:"c|?*.md') == "a_b___c___.md"
    assert safe_name("..") == "document" and safe_name(".md") == "md"


def test_concurrent_uploads_from_two_clients_lose_neither_file(web, tmp_path):
    texts = {"a": "潍坊市专利转化奖励每项12万元。", "b": "淄博市专利转化奖励每项9万元。"}
    outcomes: dict[str, str] = {}

    def user(key: str) -> None:
        outcomes[key] = web.upload(write(tmp_path / key / "same-name.md", texts[key]),
                                   write(tmp_path / key / f"own-{key}.md", f"{key}号文档：临沂市商标奖励{len(key) + 4}万元。"))

    threads = [threading.Thread(target=user, args=(k,)) for k in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert all("新文档可以提问了" in m for m in outcomes.values()), outcomes
    stored = {sha256_file(web.corpus / n) for n in ("same-name.md", "same-name-2.md")}
    assert stored == {sha256_file(tmp_path / k / "same-name.md") for k in texts}
    docs = Retriever.load(web.index).documents
    assert {"same-name.md", "same-name-2.md", "own-a.md", "own-b.md"} <= set(docs)
    assert "12万元" in web.ask("潍坊市专利转化奖励每项多少")["text"]
    assert "9万元" in web.ask("淄博市专利转化奖励每项多少")["text"]


def test_cli_build_during_a_page_upload_both_complete(web, tmp_path):
    write(web.corpus / "dropped-in.txt", "济宁市知识产权保护中心2024年受理专利预审案件850件。")  # put in by hand
    cli = subprocess.Popen([sys.executable, "-m", "bot", "build", "--corpus", str(web.corpus), "--index", str(web.index)],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = FileLock(str(web.index.resolve() / LOCK_FILE))
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the CLI build holds the lock, then upload
        try:
            lock.acquire(timeout=0)
            lock.release()
            time.sleep(0.05)
        except Timeout:
            break
    else:
        pytest.fail("the CLI build never took the index lock")
    message = web.upload(write(tmp_path / "during-build.md", "枣庄市专利质押融资风险补偿比例为30%。"))
    out, err = cli.communicate(timeout=300)
    assert cli.returncode == 0, err
    assert "added dropped-in.txt" in out
    assert "已添加 during-build.md" in message and "新文档可以提问了" in message
    assert "is running; waiting" in web.server.log_path.read_text()  # the page waited for the CLI build
    docs = Retriever.load(web.index).documents  # verifies every checksum: the index is whole
    assert {"dropped-in.txt", "during-build.md"} <= set(docs)
    builds = [p for p in web.index.iterdir() if p.name.startswith(("build-", ".build-"))]
    assert (web.index / CURRENT).resolve() in builds and len(builds) <= 2
    assert "30%" in web.ask("枣庄市专利质押融资风险补偿比例")["text"]


def test_failed_index_update_puts_the_corpus_back(web, tmp_path):
    before, logged = listing(web.corpus), len(history(web.corpus))
    cache = web.index / "embedding-cache.sqlite"
    cache.rename(tmp_path / "cache.sqlite")
    cache.mkdir()  # the index folder is broken: the build cannot open its cache
    try:
        message = web.upload(write(tmp_path / "fails.md", "滨州市专利奖每项奖励7万元。"))
    finally:
        cache.rmdir()
        (tmp_path / "cache.sqlite").rename(cache)
    assert "索引更新失败，资料库已恢复原样" in message
    assert listing(web.corpus) == before
    added, undone = history(web.corpus)[logged:]
    assert (added["action"], added["file"]) == ("add", "fails.md")
    assert undone["action"] == "undo" and "index update failed" in undone["note"] and undone["previous"] == added["sha256"]
    assert (web.corpus / ".library" / "kept" / added["sha256"]).is_file()  # even the undone upload is kept
    assert not web.ask("滨州市专利奖每项奖励多少")["answered"]
    assert web.ask(YANTAI_Q)["answered"]  # the page still works on the previous index


def test_upload_limits_and_proxied_requests(web, tmp_path):
    before = listing(web.corpus)
    many = [write(tmp_path / f"f{i}.md", f"第{i}号：测试文件内容。") for i in range(4)]
    assert "一次最多上传 3 个文件" in web.upload(*many)
    proxied = web.client(headers={"X-Forwarded-For": "203.0.113.7"})
    assert "只有管理员可以添加文档" in web.upload(many[0], client=proxied)
    assert listing(web.corpus) == before


# ---------------------------------------------------------------- the page with logins

@pytest.fixture(scope="module")
def guarded(seed, tmp_path_factory):
    root = tmp_path_factory.mktemp("guarded")
    corpus, index = copy_seed(seed, root)
    server = AppServer(["--corpus", str(corpus), "--index", str(index)], root / "app.log",
                       env={"IPBOT_AUTH": "reader:r-pass,admin:a-pass", "IPBOT_ADMINS": "admin"}).wait_ready()
    try:
        yield Web(server, corpus, index, root)
    finally:
        server.stop()


def test_login_is_enforced_on_loopback_and_only_admins_upload(guarded, tmp_path):
    from gradio_client.exceptions import AuthenticationError

    with pytest.raises((AuthenticationError, ValueError)):
        guarded.ask(YANTAI_Q)
    reader = guarded.client(auth=("reader", "r-pass"))
    assert "4.32亿元" in reader.predict(YANTAI_Q, api_name="/ask")["text"]
    before = listing(guarded.corpus)
    doc = write(tmp_path / "weihai.md", WEIHAI)
    assert "用户 reader 只有查阅权限，不能添加文档" in guarded.upload(doc, client=reader)
    assert listing(guarded.corpus) == before
    admin = guarded.client(auth=("admin", "a-pass"))
    assert "已添加 weihai.md" in guarded.upload(doc, client=admin)
    entry = history(guarded.corpus)[-1]
    assert (entry["user"], entry["via"], entry["file"]) == ("admin", "web", "weihai.md")


@pytest.mark.browser
def test_only_admins_see_the_upload_panel(guarded, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_browser(p)
        for user, password, sees in (("reader", "r-pass", False), ("admin", "a-pass", True)):
            page = browser.new_context().new_page()
            page.goto(guarded.server.url)
            page.locator("input[type='text']").first.fill(user)
            page.locator("input[type='password']").fill(password)
            page.keyboard.press("Enter")
            page.locator("#ipbot-input textarea").wait_for(timeout=60_000)
            panel = page.locator("#ipbot-upload-panel")
            if sees:
                panel.wait_for(state="visible", timeout=30_000)
            else:
                page.wait_for_timeout(3000)  # the permission check runs on load
                assert not panel.is_visible()
            page.screenshot(path=str(tmp_path / f"panel-{user}.png"), full_page=True)
        browser.close()


def test_access_rules():
    public_no_admins = Access.from_settings(Settings(auth="a:1"), "0.0.0.0")
    assert not public_no_admins.uploads_enabled and not public_no_admins.may_change("a")
    loopback_login_no_admins = Access.from_settings(Settings(auth="a:1"), "127.0.0.1")
    assert not loopback_login_no_admins.may_change(None, "127.0.0.1", {})  # a login means named admins only
    local = Access.from_settings(Settings(), "127.0.0.1")
    assert local.may_change(None, "127.0.0.1", {}) and not local.may_change(None, "127.0.0.1", {"X-Real-IP": "1.2.3.4"})
    assert not Access.from_settings(Settings(uploads="off"), "127.0.0.1").uploads_enabled
    with pytest.raises(ValueError, match="without a login"):
        Access.from_settings(Settings(auth="a:1", admins="b"))
    with pytest.raises(ValueError, match="IPBOT_AUTH"):
        Access.from_settings(Settings(auth="no-password"))


# ---------------------------------------------------------------- the command line

def cli(*args: str, corpus: Path, index: Path) -> subprocess.CompletedProcess:
    return run_cli(*args, "--corpus", str(corpus), "--index", str(index))


def test_same_stem_documents_are_two_and_remove_takes_one(dirs):
    corpus, index = dirs
    write(corpus / "notice.md", "# 通知（Markdown）\n\n威海市专利质押贷款贴息比例为50%。")
    write(corpus / "notice.txt", "通知（文本）\n\n日照市高价值专利培育中心每家奖励15万元。")
    build_index(corpus, index, progress=False)
    r = Retriever.load(index)
    assert {"notice.md", "notice.txt"} <= set(r.documents)
    assert r.search("威海专利质押贷款贴息比例", k=1)[0].doc_id == "notice.md"
    assert r.search("日照高价值专利培育中心奖励", k=1)[0].doc_id == "notice.txt"
    out = cli("remove", "notice", corpus=corpus, index=index)
    assert out.returncode == 2 and "names several documents (notice.md, notice.txt)" in out.stderr
    out = cli("remove", "notice.md", corpus=corpus, index=index)
    assert out.returncode == 0, out.stderr
    assert not (corpus / "notice.md").exists() and (corpus / "notice.txt").is_file()
    docs = Retriever.load(index).documents
    assert "notice.md" not in docs and "notice.txt" in docs


def test_remove_then_restore_gives_back_the_identical_file_and_results(dirs):
    corpus, index = dirs
    original, before = listing(corpus), results(index)
    out = cli("remove", SEEDS[0], corpus=corpus, index=index)  # the old id without extension still works
    assert out.returncode == 0, out.stderr
    assert YANTAI not in listing(corpus) and f"{SEEDS[0]}.meta.yaml" not in listing(corpus)
    assert results(index) != before
    out = cli("restore", YANTAI, corpus=corpus, index=index)
    assert out.returncode == 0, out.stderr
    assert f"restored {corpus / YANTAI}" in out.stdout
    assert listing(corpus) == original  # the document and its sidecar, byte for byte
    assert results(index) == before
    out = cli("history", corpus=corpus, index=index)
    lines = out.stdout.splitlines()
    assert [line.split()[4] for line in lines] == ["remove", "remove", "restore", "restore"]
    assert original[YANTAI][:12] in lines[0] and YANTAI in lines[0]


def test_replace_is_explicit_and_keeps_the_old_version(dirs, tmp_path):
    corpus, index = dirs
    old = sha256_file(corpus / YANTAI)
    new = write(tmp_path / YANTAI, "烟台市知识产权运营服务体系建设项目（修订版）：验收项目共9类。")
    out = cli("add", "--replace", str(new), corpus=corpus, index=index)
    assert out.returncode == 0, out.stderr
    assert f"replaced {corpus / YANTAI} (the previous version is kept: python -m bot restore 1)" in out.stdout
    assert sha256_file(corpus / YANTAI) == sha256_file(new)
    assert (corpus / ".library" / "kept" / old).is_file()
    out = cli("restore", "1", corpus=corpus, index=index)
    assert out.returncode == 0, out.stderr
    assert sha256_file(corpus / YANTAI) == old
    assert "4.32亿元" in Retriever.load(index).search(YANTAI_Q, k=1)[0].text
    entries = history(corpus)
    assert [(e["action"], e["previous"]) for e in entries] == [("replace", old), ("restore", sha256_file(new))]
    out = cli("add", str(new), corpus=corpus, index=index)  # without --replace: a new name
    assert out.returncode == 0 and f"as {corpus / YANTAI.replace('.txt', '-2.txt')}" in out.stdout


def test_corpus_size_limit(dirs, tmp_path):
    corpus, index = dirs
    settings = Settings(corpus_dir=corpus, index_dir=index, max_corpus_mb=0.05)
    big = write(tmp_path / "big.txt", "专利资助政策。" * 3000)
    outcome = Library(settings).add([big])
    assert outcome.refused and "limit" in outcome.refused[0].reason and "上限" in outcome.refused[0].zh
    assert not outcome.entries and not (corpus / "big.txt").exists()


def test_index_with_old_ids_is_rebuilt(dirs, settings):
    corpus, index = dirs
    s = settings.replace(corpus_dir=corpus, index_dir=index)
    assert stale_reason(corpus, index, s) is None
    manifest_path = index / CURRENT / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["doc_ids"]  # as written before ids carried the extension
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert stale_reason(corpus, index, s).startswith("document ids changed")
    build_index(corpus, index, settings=s, progress=False)
    assert set(Retriever.load(index).documents) == {YANTAI, f"{SEEDS[1]}.md"}
