"""The assistant behind the web page, loaded or built in the background.

The first build with the law shelf takes minutes on a small machine; the page comes up at
once, shows how far the build is, and answers as soon as the index is ready.
"""

from __future__ import annotations

import logging
import threading

from .answer import Assistant
from .build import build_index, stale_reason
from .config import Settings
from .index import IndexUnavailable
from .retrieval import Retriever

log = logging.getLogger(__name__)

READY_LOG = "ready to answer"  # logged once the assistant can answer (tests and scripts wait for it)


def load_or_build(settings: Settings, report=None) -> Retriever:
    """The index for ``settings``: loaded when up to date, else (re)built first."""
    reason = stale_reason(settings.corpus_dir, settings.index_dir, settings)
    if reason is None:
        try:
            return Retriever.load(settings.index_dir, settings=settings)
        except IndexUnavailable as exc:
            reason = str(exc)
    log.warning("building the index (%s) ...", reason)
    log.info(build_index(settings.corpus_dir, settings.index_dir, settings=settings, report=report).summary())
    return Retriever.load(settings.index_dir, settings=settings)


class Service:
    """Holds the :class:`Assistant` once it exists, and the build's progress until then."""

    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.assistant = assistant
        self.error = ""
        self.done, self.total = 0, 0
        self.ready = threading.Event()
        if assistant is not None:
            self.ready.set()

    def start(self) -> "Service":
        threading.Thread(target=self._load, name="ipbot-index", daemon=True).start()
        return self

    def _load(self) -> None:
        try:
            retriever = load_or_build(self.settings, report=self._report)
            self.assistant = Assistant(retriever, settings=self.settings)
            log.info("%s: %d documents, %d passages", READY_LOG, len(retriever.documents), len(retriever.store.chunks))
        except Exception as exc:  # shown on the page in the user's terms; details in the log
            log.exception("the index could not be loaded or built")
            self.error = str(exc)
        finally:
            self.ready.set()

    def _report(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def status(self) -> str:
        """What the page says about the index, in Chinese."""
        if self.assistant is not None:
            return ""
        if self.error:
            return f"索引无法加载或构建：{self.error}。请联系管理员查看日志（可运行 python -m bot build 重建）。"
        if self.total:
            pct = 100 * self.done // max(self.total, 1)
            return (f"正在建立索引：已处理 {self.done}/{self.total} 个段落（{pct}%）。"
                    "首次启动需要几分钟，完成后即可提问，页面无需刷新。")
        return "正在加载索引，请稍候……"
