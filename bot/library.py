"""The corpus as a library that never loses a document, with a history of every change.

Every change to the corpus (add, replace, remove, restore; from the CLI or the page) goes
through :class:`Library`, which

* writes only inside the corpus folder and never through a link (names are reserved with
  ``O_CREAT|O_EXCL|O_NOFOLLOW``; replacing renames over the name), under names that will be
  indexed (no folders, no hidden names);
* never overwrites a name that is taken: the new file gets a free name (``notice-2.md``) unless
  replacing was asked for, and a file identical (SHA-256) to a document is not added again;
* refuses a file that cannot be parsed before it enters the corpus;
* keeps every replaced or removed version in ``.library/kept/<sha256>`` and appends one JSON line
  per change (time, user, file, SHA-256, size) to ``.library/history.jsonl`` beside the documents
  (a hidden folder, so it is never indexed);
* rebuilds the index while holding the index lock, and puts the corpus back as it was when the
  build fails.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import secrets
import shutil
import unicodedata
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import yaml

from .build import BuildStats, build_index, index_lock
from .config import Settings
from .corpus import MAX_FILE_BYTES, SIDECAR_SUFFIX, SUFFIXES, corpus_files, doc_id_for, find_documents, legacy_doc_id, read_file, sidecar_for
from .hashing import sha256_file

log = logging.getLogger(__name__)

LIBRARY_DIR = ".library"
HISTORY_FILE = "history.jsonl"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]")
TAKEN = "the name was taken"  # notes on an added file stored under another name
RENAMED = "the name was made safe"
_MAX_NAME_BYTES = 180  # leaves room for "-NN" and ".meta.yaml" within the usual 255-byte limit


class LibraryError(ValueError):
    """A change that cannot be made; ``zh`` says why in the page's language."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


class UpdateFailed(RuntimeError):
    """The index could not be updated after a change; the corpus was put back as it was."""


@dataclass
class Entry:
    """One change to one corpus file, as recorded in the history."""

    seq: int
    op: int  # entries made by one command share it
    time: str
    action: str  # add | replace | remove | restore | undo
    file: str  # path relative to the corpus folder (the document id for documents)
    sha256: str = ""  # content after the change ("" when the file is gone)
    size: int = 0
    previous: str = ""  # SHA-256 of the content before the change, kept in the library
    user: str = ""
    via: str = ""  # cli | web
    requested: str = ""  # the name asked for, when the file was stored under another
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Refusal:
    name: str
    reason: str
    zh: str


@dataclass
class Outcome:
    """What a command did: changes made, files not added and why, and the index update."""

    entries: list[Entry] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file given, document it equals)
    refused: list[Refusal] = field(default_factory=list)
    stats: BuildStats | None = None


def safe_name(name: str) -> str:
    """A file name that stays in the corpus folder and gets indexed: no folders, no hidden
    names, no control or reserved characters, not too long."""
    name = unicodedata.normalize("NFC", re.split(r"[/\\]", name)[-1])
    name = _UNSAFE.sub("_", name).strip().lstrip(". ")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = stem.rstrip(". ") or "document"
    while len(stem.encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1]
    return f"{stem}.{suffix}" if suffix else stem


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


class Library:
    """Changes to the corpus of ``settings.corpus_dir``, indexed into ``settings.index_dir``.

    >>> lib = Library(Settings.from_env(), user="alice", via="cli")
    >>> outcome = lib.add([Path("通知.pdf")])       # outcome.entries, .duplicates, .refused, .stats
    >>> lib.remove("通知.pdf"); lib.restore("通知.pdf"); lib.history()
    """

    def __init__(self, settings: Settings, user: str | None = None, via: str = "cli", progress: bool = False) -> None:
        self.settings = settings
        self.corpus = Path(settings.corpus_dir)
        self.home = self.corpus / LIBRARY_DIR
        self.user, self.via, self.progress = user or "", via, progress

    # ------------------------------------------------------------------ reading

    def history(self) -> list[Entry]:
        """Every recorded change, oldest first (a damaged line is skipped with a warning)."""
        path = self.home / HISTORY_FILE
        if not path.is_file():
            return []
        entries = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append(Entry(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                log.warning("%s line %d is damaged (%s); skipped", path, n, exc)
        return entries

    # ------------------------------------------------------------------ changing

    def add(self, paths: list[Path], replace: bool = False, max_files: int | None = None) -> Outcome:
        """Copy documents (with a ``NAME.meta.yaml`` beside them) into the corpus and update the index.

        A taken name gets a free one unless ``replace``; then the old version is kept. Files
        identical to a document, unsupported, too large or unparsable are listed in the outcome
        and not added.
        """
        paths = [Path(p) for p in paths]
        if max_files is not None and len(paths) > max_files:
            raise LibraryError(f"at most {max_files} files at a time", f"一次最多上传 {max_files} 个文件。")

        def steps(tx: _Transaction) -> None:
            for path in paths:
                tx.add_file(path, replace)

        return self._change(steps)

    def remove(self, ref: str) -> Outcome:
        """Delete one document (by id, or its old id without extension when that names one
        file), keeping a copy, and update the index. Its sidecar goes too unless another
        document shares it."""

        def steps(tx: _Transaction) -> None:
            files = find_documents(self.corpus, ref)
            if not files:
                raise LibraryError(f"no document with id {ref!r} in {self.corpus}", f"没有编号为 {ref} 的文档。")
            if len(files) > 1:
                names = ", ".join(doc_id_for(p, self.corpus) for p in files)
                raise LibraryError(f"{ref!r} names several documents ({names}); give the full id",
                                   f"{ref} 对应多个文档（{names}），请写完整的文档编号。")
            doc, sidecar = files[0], sidecar_for(files[0])
            tx.remove_file(doc)
            if sidecar.is_file() and not _sidecar_in_use(sidecar, self.corpus):
                tx.remove_file(sidecar)

        return self._change(steps)

    def restore(self, ref: str) -> Outcome:
        """Bring back a kept version: ``ref`` is a history entry number, or a document id for
        its latest removed or replaced version (with its sidecar). What is there now is kept in
        turn; nothing happens when the file is already that version."""

        def steps(tx: _Transaction) -> None:
            for entry in self._restore_targets(ref, self.history()):
                tx.put_back(entry.file, entry.previous, "restore", note=f"version before entry {entry.seq}")

        return self._change(steps)

    def _change(self, steps: Callable[[_Transaction], None]) -> Outcome:
        """Run ``steps`` and update the index, under the index lock; on any failure every file
        is put back as it was."""
        with index_lock(self.settings.index_dir, self.settings.lock_timeout):
            tx = _Transaction(self)
            try:
                steps(tx)
            except BaseException as exc:
                tx.undo(f"change failed: {exc}")
                raise
            finally:
                tx.clean_staging()
            return tx.commit()

    def _restore_targets(self, ref: str, history: list[Entry]) -> list[Entry]:
        if ref.isdigit():
            chosen = next((e for e in history if e.seq == int(ref)), None)
            if chosen is None:
                raise LibraryError(f"no history entry {ref}", f"历史记录中没有第 {ref} 条。")
            if not chosen.previous:
                raise LibraryError(f"entry {ref} ({chosen.action} {chosen.file}) has no earlier version to restore",
                                   f"第 {ref} 条（{chosen.file}）没有可恢复的旧版本。")
        else:
            kept = [e for e in history if e.previous and not e.file.endswith(SIDECAR_SUFFIX)]
            matches = [e for e in kept if e.file == ref] or [e for e in kept if legacy_doc_id(e.file) == ref]
            if not matches:
                raise LibraryError(f"no removed or replaced version of {ref!r} in the history",
                                   f"历史记录中没有 {ref} 被删除或替换的版本。")
            if len({e.file for e in matches}) > 1:
                names = ", ".join(sorted({e.file for e in matches}))
                raise LibraryError(f"{ref!r} names several documents ({names}); give the full id",
                                   f"{ref} 对应多个文档（{names}），请写完整的文档编号。")
            chosen = matches[-1]
        sidecar = sidecar_for(Path(chosen.file)).as_posix()
        together = [e for e in history if e.op == chosen.op and e.file == sidecar and e.previous]
        return [chosen, *together]

    # ------------------------------------------------------------------ files

    def keep(self, path: Path) -> tuple[str, int]:
        """Copy ``path``'s content into the library (once per content); its SHA-256 and size."""
        digest = sha256_file(path)
        kept = self.kept_path(digest)
        if not kept.is_file():
            kept.parent.mkdir(parents=True, exist_ok=True)
            _write_over(kept, path)
        return digest, kept.stat().st_size

    def kept_path(self, digest: str) -> Path:
        return self.home / "kept" / digest

    def inside(self, rel: str) -> Path:
        """``corpus/rel``, refused when it (or a folder on the way) leads outside the corpus."""
        target = self.corpus / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute() or not target.parent.resolve().is_relative_to(self.corpus.resolve()):
            raise LibraryError(f"{rel} is outside the corpus folder", f"{rel} 不在资料库文件夹内。")
        return target

    def log(self, entry: Entry) -> None:
        """Append one entry to the history, on disk before the next change is made."""
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / HISTORY_FILE).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


class _Transaction:
    """The changes of one command, made one file at a time and logged as they happen, so that
    a failed step or index update can put every file back."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.outcome = Outcome()
        self.entries: list[Entry] = []
        history = lib.history()
        self.next_seq = (history[-1].seq if history else 0) + 1
        self.op = self.next_seq
        self.staging = lib.home / "staging" / secrets.token_hex(6)

    @cached_property
    def known(self) -> dict[str, str]:
        """Document id by content hash, to recognise a file that is already in the corpus."""
        return {sha256_file(p): doc_id_for(p, self.lib.corpus) for p in corpus_files(self.lib.corpus)}

    @cached_property
    def corpus_bytes(self) -> int:
        return sum(p.stat().st_size for p in (*corpus_files(self.lib.corpus), *_sidecars(self.lib.corpus)))

    # ---------------------------------------------------------------- steps

    def add_file(self, path: Path, replace: bool) -> None:
        given = path.name
        name = safe_name(given)

        def refuse(reason: str, zh: str) -> None:
            log.warning("not adding %s: %s", given, reason)
            self.outcome.refused.append(Refusal(given, reason, zh))

        if not path.is_file():
            return refuse("no such file", "文件不存在或已被处理，请重新选择。")
        if Path(name).suffix.lower() not in SUFFIXES:
            return refuse(f"unsupported type (use {', '.join(SUFFIXES)})", "不支持的文件类型（请用 txt、md、html、pdf、docx）。")
        size = path.stat().st_size
        if size == 0:
            return refuse("the file is empty", "文件是空的。")
        if size > MAX_FILE_BYTES:
            return refuse(f"{size / 2**20:.0f} MB is over the {MAX_FILE_BYTES // 2**20} MB limit",
                          f"文件超过 {MAX_FILE_BYTES // 2**20} MB 上限。")
        # check the copy that will go in, not the original, which may change meanwhile
        stage = self.staging / str(len(self.entries) + len(self.outcome.refused) + len(self.outcome.duplicates))
        stage.mkdir(parents=True)
        staged = stage / name
        shutil.copyfile(path, staged)
        if sidecar_for(path).is_file():
            shutil.copyfile(sidecar_for(path), sidecar_for(staged))
        digest = sha256_file(staged)
        if digest in self.known:
            self.outcome.duplicates.append((given, self.known[digest]))
            return None
        try:
            read_file(staged, stage)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            return refuse(f"cannot be read: {exc}", f"无法读取其中的文字：{_reason_zh(exc)}。")
        target = self.lib.corpus / name
        replacing = replace and os.path.lexists(target)
        if replacing and not target.is_file():
            return refuse(f"{name} in the corpus is not a file", f"资料库中的 {name} 不是文件。")
        if not replacing:
            target = self._free_name(name)
        grows = size - (target.stat().st_size if replacing else 0)
        limit = self.lib.settings.max_corpus_mb * 2**20
        if self.corpus_bytes + grows > limit:
            return refuse(f"the corpus would exceed its {self.lib.settings.max_corpus_mb:g} MB limit",
                          f"资料库将超过 {self.lib.settings.max_corpus_mb:g} MB 的上限。")
        taken = target.name != name
        self.put(target, staged, requested=given if target.name != given else "",
                 note=TAKEN if taken else (RENAMED if name != given else ""))
        if sidecar_for(staged).is_file():
            self.put(sidecar_for(target), sidecar_for(staged))
        self.corpus_bytes += grows
        self.known[digest] = doc_id_for(target, self.lib.corpus)
        return None

    def _free_name(self, name: str) -> Path:
        """``name``, else ``stem-2.ext``, ``stem-3.ext``…: the first name no file or link uses
        and whose sidecar no other document uses (a new file never takes another's metadata)."""
        stem, suffix = Path(name).stem, Path(name).suffix
        for n in range(1, 10_000):
            candidate = self.lib.corpus / (name if n == 1 else f"{stem}-{n}{suffix}")
            sidecar = sidecar_for(candidate)
            if not os.path.lexists(candidate) and not (os.path.lexists(sidecar) and _sidecar_in_use(sidecar, self.lib.corpus)):
                return candidate
        raise LibraryError(f"no free name for {name}", f"无法为 {name} 找到可用的文件名。")

    def put(self, target: Path, source: Path, requested: str = "", note: str = "") -> None:
        """Write ``source`` at ``target`` in the corpus: a new name, or over a file whose content
        is kept first. Recorded as add or replace."""
        previous = ""
        if os.path.lexists(target):
            previous, _ = self.lib.keep(target)
            _write_over(target, source)
        else:
            _write_new(target, source)
        self.record("replace" if previous else "add", target, previous, requested=requested, note=note)

    def remove_file(self, path: Path) -> None:
        previous, size = self.lib.keep(path)
        path.unlink()
        self.record("remove", path, previous, size=size)

    def put_back(self, rel: str, digest: str, action: str, note: str = "") -> None:
        """Put the kept version ``digest`` at ``rel``, keeping what is there now."""
        kept = self.lib.kept_path(digest)
        if not kept.is_file() or sha256_file(kept) != digest:
            raise LibraryError(f"the kept copy of {rel} ({digest[:12]}) is missing or damaged",
                               f"{rel} 的保留副本缺失或已损坏。")
        target = self.lib.inside(rel)
        if target.is_file() and not target.is_symlink() and sha256_file(target) == digest:
            return
        previous = ""
        if os.path.lexists(target):
            previous, _ = self.lib.keep(target)
            _write_over(target, kept)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_new(target, kept)
        self.record(action, target, previous, note=note)

    def record(self, action: str, target: Path, previous: str, size: int = 0, requested: str = "", note: str = "") -> None:
        present = target.is_file() and not target.is_symlink()
        entry = Entry(
            seq=self.next_seq, op=self.op, time=_now(), action=action, file=target.relative_to(self.lib.corpus).as_posix(),
            sha256=sha256_file(target) if present else "", size=target.stat().st_size if present else size,
            previous=previous, user=self.lib.user, via=self.lib.via, requested=requested, note=note,
        )
        self.next_seq += 1
        self.entries.append(entry)
        self.lib.log(entry)  # at once: a crash later still leaves the change on record

    # ---------------------------------------------------------------- end

    def clean_staging(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def commit(self) -> Outcome:
        """Update the index for the changes made; when that fails, undo them and raise."""
        self.outcome.entries = list(self.entries)
        if not self.entries:
            return self.outcome
        s = self.lib.settings
        try:
            self.outcome.stats = build_index(s.corpus_dir, s.index_dir, settings=s, progress=self.lib.progress)
        except BaseException as exc:
            log.error("index update failed (%s); putting the corpus back", exc)
            self.undo(f"index update failed: {exc}")
            raise UpdateFailed(f"the index could not be updated ({exc}); the corpus was put back as it was") from exc
        return self.outcome

    def undo(self, reason: str) -> None:
        """Put back every file this transaction changed, newest change first, and record it."""
        for entry in reversed(list(self.entries)):
            try:
                if entry.previous:
                    self.put_back(entry.file, entry.previous, "undo", note=reason)
                elif os.path.lexists(target := self.lib.corpus / entry.file):
                    digest, _ = self.lib.keep(target)
                    target.unlink()
                    self.record("undo", target, digest, size=entry.size, note=reason)
            except Exception:  # keep undoing the others; the history shows what stayed
                log.exception("could not undo entry %d (%s %s)", entry.seq, entry.action, entry.file)


def _write_new(target: Path, source: Path) -> None:
    """Create ``target``, which must not exist, not even as a dangling link."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _write_over(target: Path, source: Path) -> None:
    """Replace ``target`` in one rename: a link there is replaced, never followed."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")  # hidden: never indexed
    _write_new(tmp, source)
    os.replace(tmp, target)


def _sidecars(corpus: Path) -> list[Path]:
    return [p for p in corpus.rglob("*" + SIDECAR_SUFFIX) if not any(part.startswith(".") for part in p.relative_to(corpus).parts)]


def _sidecar_in_use(sidecar: Path, corpus: Path) -> bool:
    """Whether a corpus document reads ``sidecar`` as its metadata."""
    return any(sidecar_for(p) == sidecar for p in corpus_files(corpus))


def _reason_zh(exc: BaseException) -> str:
    text = str(exc)
    for key, zh in (("NUL", "不是文本文件"), ("no text left", "清理后没有可用的文字"),
                    ("no extractable text", "PDF 中没有可提取的文字（扫描件需先做文字识别）"),
                    ("PDF cannot", "PDF 文件已损坏或无法读取"), ("Word file", "Word 文件已损坏或无法读取"),
                    ("encoding", "无法识别文字编码"), ("YAML", "元数据格式有误")):
        if key in text:
            return zh
    return "文件格式无法解析"
