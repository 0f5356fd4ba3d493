"""The Gradio chat page and its named API endpoints (``/ask``, ``/search``, ``/upload``).

Everything from a document, a user or an LLM reaches the page escaped for HTML and Markdown
alike (:func:`escape_text`): documents are data, never markup. The only links are http(s) source
links in the cards; anything else is shown as a plain file name.
"""

from __future__ import annotations

import html
import logging
import re
import time
from pathlib import Path
from typing import Iterator

import gradio as gr

from .access import Access
from .answer import Answer, Assistant
from .build import IndexBusy
from .config import Settings
from .corpus import SIDECAR_SUFFIX, SUFFIXES, CorpusError
from .index import IndexUnavailable
from .library import TAKEN, Library, LibraryError, Outcome, UpdateFailed
from .limits import check_filters, check_k, check_query
from .retrieval import Hit, Retriever, make_filters
from .service import Service

log = logging.getLogger(__name__)

ALL = "全部"
EXAMPLES = [
    "我的发明专利能不能申请维持费资助？",
    "专利被质押了还能做开放许可吗？",
    "烟台成果贷前三季度帮企业贷了多少？",
    "崂山那边靠专利作价入股筹了多少钱",
    "鄭州有多少企業拿到了質押貸款補貼？",
]
CSS = """
.source-card {border:1px solid var(--border-color-primary); border-radius:8px; padding:6px 10px; margin:6px 0;}
.source-card summary {cursor:pointer; font-weight:600;}
.source-card mark {background:#fde68a; color:inherit; padding:0 1px;}
.source-meta {color:var(--body-text-color-subdued); font-size:0.9em;}
.source-meta .superseded {color:#b45309; font-weight:600;}
#ipbot-docs table {width:100%; font-size:0.9em;}
@media (max-width: 640px) { .gradio-container {padding:4px !important;} }
"""
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.I)
STREAM_STEP = 12  # characters per streamed update


# Every ASCII character that HTML, Markdown (links, images, emphasis, headings, lists, code),
# GFM autolinks (www., http:, @) or KaTeX ($) give a meaning, as a numeric character
# reference: the browser shows the character, and no parser can read structure into it.
_ENTITIES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'\\`*_[]()!#+-.|~{}:$@^="}


def escape_text(text: str) -> str:
    """Text from a document, a user or an LLM, made inert for both HTML and Markdown."""
    return (text or "").translate(_ENTITIES)


def escape_line(text: str) -> str:
    """Like :func:`escape_text`, on one line: a newline in a title could end the HTML block
    of a source card, after which the rest would be read as Markdown."""
    return escape_text(" ".join((text or "").split()))


def safe_link(source: str) -> str:
    """An anchor for http(s) sources; everything else as escaped text (no javascript: etc.)."""
    if _SAFE_URL.match(source or ""):
        return (f'<a href="{html.escape(source, quote=True)}" target="_blank" rel="noopener noreferrer nofollow">'
                f"{escape_text(source)}</a>")
    return escape_line(source)


def passage_html(hit: Hit, spans: list[tuple[int, int]]) -> str:
    """The passage, escaped, with the quoted sentences marked (no newline left: see :func:`escape_line`)."""
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out += [escape_text(hit.text[pos:start]), "<mark>", escape_text(hit.text[start:end]), "</mark>"]
        pos = end
    out.append(escape_text(hit.text[pos:]))
    return _NEWLINES.sub("<br>", "".join(out))


_NEWLINES = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x1c-\x1e\x85]")


def sources_html(answer: Answer) -> str:
    """Numbered, collapsible source cards for one answer, one line each."""
    if not answer.citations:
        return ""
    heading = "来源" if answer.answered else "可能相关的段落"
    cards = [f"<p><b>{heading}</b></p>"]
    for n, hit in enumerate(answer.citations, 1):
        spans = [(q.start, q.end) for q in answer.quotes if q.citation == n]
        page = f" · 第{int(hit.page)}页" if hit.page else ""
        facts = [hit.doc_type, hit.chapter, f"{hit.effective} 施行" if hit.effective else ""]
        extra = "".join(f" · {escape_line(f)}" for f in facts if f)
        old = ' · <span class="superseded">已被新版本取代</span>' if hit.superseded else ""
        meta = f"{escape_line(hit.date or '日期不详')}{extra} · {safe_link(hit.source)}{page}{old}"
        cite = next((q.cite_as for q in answer.quotes if q.citation == n and q.cite_as), hit.citation)
        cards.append(
            f'<details class="source-card"{" open" if spans else ""}>'
            f"<summary>[{n}] {escape_line(cite)}</summary>"
            f'<div class="source-meta">{meta}</div>'
            f"<div>{passage_html(hit, spans)}</div></details>"
        )
    return "\n".join(cards)


def message_html(answer: Answer) -> str:
    """The whole bot message: notice, answer text (Markdown, escaped) and source cards."""
    parts = []
    if answer.notice:
        parts.append(f"*{escape_line(answer.notice)}*")
    parts.append(escape_answer(answer.text))
    if not answer.answered and answer.query:
        parts.append(f"（理解为：{escape_line(answer.query)}）")
    cards = sources_html(answer)
    if cards:
        parts.append(cards)
    return "\n\n".join(parts)


def escape_answer(text: str) -> str:
    """Answer text (ours or an LLM's) as Markdown in which only two constructs survive:
    a leading "> " (quote) and paired ``**`` (bold). Everything else, [n] markers included,
    is inert text, so no title, passage or LLM output can make a link, an image or a fake
    citation link."""
    lines = []
    for line in (text or "").split("\n"):
        prefix = "> " if line.startswith("> ") else ""
        pieces = line[len(prefix):].split("**")
        if len(pieces) % 2 == 0:  # an unpaired ** stays literal
            pieces = ["**".join(pieces)]
        lines.append(prefix + "**".join(escape_text(piece) for piece in pieces))
    return "\n".join(lines)


def _filters(settings: Settings, *values: object) -> dict | None:
    """Filters from the page's (region, document, type, from, to) values; "全部" means any.
    Raises ``ValueError`` (in Chinese) for values no document could match."""
    if not all(v is None or isinstance(v, str) for v in values):
        raise ValueError("筛选条件必须是文字")
    return check_filters(make_filters(*values, any_value=ALL), settings)


def documents_html(retriever: Retriever | None) -> str:
    if retriever is None:
        return "<p class='source-meta'>索引准备好后显示已收录的文档。</p>"
    counts: dict[str, int] = {}
    for chunk in retriever.store.chunks:
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    rows = "".join(
        f"<tr><td>{escape_line(d.title)}{'（已被新版本取代）' if d.superseded_by else ''}</td>"
        f"<td>{escape_line(d.doc_type or '—')}</td><td>{escape_line(d.region or '—')}</td>"
        f"<td>{escape_line(d.date or '—')}</td><td>{escape_line(d.effective or '—')}</td><td>{counts.get(d.doc_id, 0)}</td></tr>"
        for d in sorted(retriever.documents.values(), key=lambda d: d.date or "", reverse=True)
    )
    built = escape_line(str(retriever.store.manifest.get("built_at", "")))
    return (
        f"<table><thead><tr><th>文档</th><th>类型</th><th>地区</th><th>版本日期</th><th>施行</th><th>段落数</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<p class='source-meta'>共 {len(retriever.documents)} 篇文档、{len(retriever.store.chunks)} 个段落；索引构建于 {built}</p>"
    )


def _choices(retriever: Retriever | None) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    docs = retriever.documents.values() if retriever else []
    regions = [ALL, *sorted({d.region for d in docs if d.region})]
    titles = [(ALL, ALL)] + [(d.title, d.doc_id) for d in docs]
    types = [ALL, *sorted({d.doc_type for d in docs if d.doc_type})]
    return regions, titles, types


def upload_message(outcome: Outcome) -> str:
    """Exactly what an upload did, file by file (Markdown)."""
    lines = []
    for e in outcome.entries:
        if e.file.endswith(SIDECAR_SUFFIX):
            continue
        if e.note == TAKEN:
            lines.append(f"已添加 {escape_line(e.requested)}：资料库中已有同名但内容不同的文档，新文件另存为 "
                         f"{escape_line(e.file)}，原文档未改动。")
        elif e.requested:
            lines.append(f"已添加 {escape_line(e.requested)}（文件名含不能使用的字符或以点开头，保存为 {escape_line(e.file)}）。")
        else:
            lines.append(f"已添加 {escape_line(e.file)}。")
    for given, existing in outcome.duplicates:
        lines.append(f"未重复添加 {escape_line(given)}：与已收录的 {escape_line(existing)} 内容完全相同。")
    for r in outcome.refused:
        lines.append(f"未添加 {escape_line(r.name)}：{r.zh}")
    if outcome.stats:
        lines.append(f"现有 {outcome.stats.documents} 篇文档、{outcome.stats.chunks} 个段落，新文档可以提问了。")
        if outcome.stats.skipped:
            lines.append("资料库中未能读取：" + "；".join(f"{escape_line(Path(f).name)}（{escape_line(why)}）"
                                                for f, why in outcome.stats.skipped))
    return "\n\n".join(lines)


def discard_uploads(paths: list[Path]) -> None:
    """Delete Gradio's temporary copies of uploaded files (only those in its upload folder)."""
    root = Path(gr.utils.get_upload_folder()).resolve()
    for path in paths:
        path = path.resolve()
        if path.is_relative_to(root) and path.is_file():
            path.unlink(missing_ok=True)
            if path.parent != root and not any(path.parent.iterdir()):
                path.parent.rmdir()


def build_ui(service: Service | Assistant, settings: Settings | None = None, concurrency: int = 4,
             access: Access | None = None) -> gr.Blocks:
    """The page over a :class:`Service` (which may still be building its index) or a ready Assistant;
    ``access`` decides who may add documents (default: this machine, no login)."""
    if isinstance(service, Assistant):
        service = Service(settings or service.settings, service)
    settings = settings or service.settings
    access = access or Access.from_settings(settings)

    def not_ready() -> str:
        return service.status() if service.assistant is None else ""

    def respond(message: str, history: list, *filters: str) -> Iterator[tuple[list, str]]:
        history = list(history or []) if isinstance(history, list) else []
        message = (message or "").strip() if isinstance(message, str) else ""
        shown = message if len(message) <= settings.max_question_chars * 2 else message[: settings.max_question_chars] + "……"
        history.append({"role": "user", "content": shown or "（空）"})
        history.append({"role": "assistant", "content": "正在查找资料……"})
        yield history, ""
        if not_ready():
            history[-1] = {"role": "assistant", "content": escape_line(not_ready())}
            yield history, ""
            return
        try:
            answer = service.assistant.ask(message, history=history[:-2], filters=_filters(settings, *filters))
        except ValueError as exc:  # a filter no document could match
            history[-1] = {"role": "assistant", "content": escape_line(f"筛选条件有误：{exc}")}
            yield history, ""
            return
        except Exception:  # never show a traceback to the user
            log.exception("answering failed")
            history[-1] = {"role": "assistant", "content": "抱歉，处理这个问题时出错了，请换个说法再试，或联系管理员查看日志。"}
            yield history, ""
            return
        for end in range(STREAM_STEP, len(answer.text), STREAM_STEP):
            history[-1] = {"role": "assistant", "content": escape_answer(answer.text[:end])}
            yield history, ""
            time.sleep(0.01)
        history[-1] = {"role": "assistant", "content": message_html(answer)}
        yield history, ""

    def api_ask(question: str, history: list[dict] | None = None, region: str = "", doc_id: str = "",
                doc_type: str = "", date_from: str = "", date_to: str = "") -> dict:
        """Answer a question; ``history`` is a list of {"role", "content"} messages."""
        question = question if isinstance(question, str) else ""
        if not_ready():
            return Answer(not_ready(), [], False, query=question[:100]).to_dict()
        try:
            filters = _filters(settings, region, doc_id, doc_type, date_from, date_to)
            return service.assistant.ask(question, history=history, filters=filters).to_dict()
        except ValueError as exc:
            return Answer(f"参数有误：{exc}", [], False, query=question[:100]).to_dict()
        except Exception:  # never a traceback, whatever a client sends
            log.exception("answering failed")
            return Answer("抱歉，处理这个问题时出错了，请换个说法再试，或联系管理员查看日志。", [], False,
                          query=question[:100]).to_dict()

    def api_search(query: str, k: int = 5, region: str = "", doc_id: str = "", doc_type: str = "",
                   date_from: str = "", date_to: str = "") -> list[dict]:
        """Ranked passages for ``query`` (at most ``max_question_chars`` long; ``k`` up to ``max_search_k``)."""
        if not_ready():
            return []
        try:
            query, k = check_query(query, settings), check_k(k, settings)
            filters = _filters(settings, region, doc_id, doc_type, date_from, date_to)
            return [h.to_dict() for h in service.assistant.retriever.search(query, k=k, filters=filters)]
        except ValueError as exc:
            raise gr.Error(f"参数有误：{exc}", print_exception=False) from None
        except Exception:
            log.exception("search failed")
            raise gr.Error("抱歉，搜索时出错了，请稍后再试，或联系管理员查看日志。", print_exception=False) from None

    def may_change(request: gr.Request) -> bool:
        client = getattr(request, "client", None)
        return access.may_change(request.username, getattr(client, "host", None), dict(request.headers))

    def show_upload_panel(request: gr.Request):
        """Only those who may add documents see the upload panel."""
        return gr.update(visible=may_change(request))

    def upload(files: list | None, request: gr.Request):
        """Add uploaded documents to the corpus (admins only), update the index, make them answerable."""
        paths = [Path(f if isinstance(f, str) else getattr(f, "name", "")) for f in (files or [])]
        user = request.username
        try:
            if not may_change(request):
                log.warning("upload refused for %s", user or "a request without login")
                message = access.refusal(user)
            elif not_ready():
                message = not_ready()
            elif not paths:
                message = "请先选择要上传的文件（txt、md、html、pdf、docx）。"
            else:
                retriever = service.assistant.retriever
                lib_settings = settings.replace(index_dir=retriever.index_dir)
                outcome = Library(lib_settings, user=user, via="web").add(paths, max_files=settings.max_upload_files)
                if outcome.stats:
                    retriever.reload()
                message = upload_message(outcome)
        except LibraryError as exc:
            message = f"未添加：{exc.zh}"
        except UpdateFailed:
            message = "索引更新失败，资料库已恢复原样，这次没有添加任何文件。请稍后重试，或联系管理员查看日志。"
        except IndexBusy:
            message = "另一项索引更新仍在进行，这次没有添加任何文件；请稍后再试。"
        except (CorpusError, IndexUnavailable) as exc:
            log.error("upload: %s", exc)
            message = "文件已收录，但重新载入索引失败；请联系管理员查看日志。"
        except Exception:
            log.exception("upload failed")
            message = "上传失败，请检查文件后重试，或联系管理员查看日志。"
        finally:
            discard_uploads(paths)
        return (message, *panels(), None)

    def panels() -> tuple:
        """The document panel and filter choices for the index as it is now."""
        retriever = service.assistant.retriever if service.assistant else None
        regions, titles, types = _choices(retriever)
        return (documents_html(retriever), gr.update(choices=regions), gr.update(choices=titles),
                gr.update(choices=types))

    def poll() -> tuple:
        """While the index builds: progress; once it is ready, the panels, and the timer stops."""
        if service.assistant is None and not service.error:
            return (gr.update(value=service.status(), visible=True), *[gr.update()] * 4, gr.update(active=True))
        return (gr.update(value=service.status(), visible=bool(service.error)), *panels(), gr.update(active=False))

    with gr.Blocks(title="知识产权政策问答", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## 知识产权政策问答\n根据收录的法律法规、政策文件与新闻回答，并给出每条答案的出处；资料中没有的内容会直接说明。")
        banner = gr.Markdown(service.status(), visible=bool(not_ready()), elem_id="ipbot-status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.Chatbot(label="对话", height=520, buttons=["copy"], sanitize_html=True,
                                  placeholder="请输入问题，例如：烟台有多少个院士工作站？", elem_id="ipbot-chat")
                with gr.Row():
                    box = gr.Textbox(placeholder="输入您的问题，按回车发送", show_label=False, scale=5,
                                     max_length=settings.max_question_chars * 2, elem_id="ipbot-input")
                    send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="ipbot-send")
                clear = gr.Button("清空对话", size="sm", elem_id="ipbot-clear")
                gr.Examples(EXAMPLES, inputs=box, label="示例问题（点击填入）")
            with gr.Column(scale=1, min_width=260):
                regions, titles, types = _choices(service.assistant.retriever if service.assistant else None)
                region = gr.Dropdown(regions, value=ALL, label="地区", elem_id="ipbot-region")
                doc = gr.Dropdown(titles, value=ALL, label="文档", elem_id="ipbot-doc")
                with gr.Accordion("更多筛选", open=False):
                    doc_type = gr.Dropdown(types, value=ALL, label="文档类型", elem_id="ipbot-doctype")
                    date_from = gr.Textbox(label="起始日期", placeholder="如 2022 或 2022-06", elem_id="ipbot-from")
                    date_to = gr.Textbox(label="截止日期", placeholder="如 2023-12", elem_id="ipbot-to")
                with gr.Accordion("已收录文档", open=False):
                    docs_panel = gr.HTML(documents_html(service.assistant.retriever if service.assistant else None),
                                         elem_id="ipbot-docs")
                with gr.Accordion("上传文档", open=False, visible=False, elem_id="ipbot-upload-panel") as upload_panel:
                    files = gr.File(file_count="multiple", file_types=list(SUFFIXES), label="txt / md / html / pdf / docx",
                                    elem_id="ipbot-upload")
                    add = gr.Button("添加到资料库", size="sm", elem_id="ipbot-add")
                    status = gr.Markdown(elem_id="ipbot-upload-status")
        inputs = [box, chat, region, doc, doc_type, date_from, date_to]
        box.submit(respond, inputs, [chat, box], api_visibility="private", concurrency_limit=concurrency)
        send.click(respond, inputs, [chat, box], api_visibility="private", concurrency_limit=concurrency)
        clear.click(lambda: ([], ""), None, [chat, box], api_visibility="private")
        add.click(upload, [files], [status, docs_panel, region, doc, doc_type, files], api_name="upload", concurrency_limit=1)
        demo.load(show_upload_panel, None, upload_panel, api_visibility="private")
        timer = gr.Timer(1.0, active=service.assistant is None)
        timer.tick(poll, None, [banner, docs_panel, region, doc, doc_type, timer], api_visibility="private",
                   show_progress="hidden")
        gr.api(api_ask, api_name="ask", concurrency_limit=concurrency)
        gr.api(api_search, api_name="search", concurrency_limit=concurrency)
    demo.queue(default_concurrency_limit=concurrency, max_size=256)
    return demo
