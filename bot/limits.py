"""Bounds on what one request may ask for: earlier turns, search queries and ``k``, filters.

Every way into the answerer (the page, the ``/ask`` and ``/search`` API, the Python API)
passes through these, so the work per request is capped whatever a client sends. Messages are
in Chinese: they reach the page and API users as they are.
"""

from __future__ import annotations

import math
import re

from .config import Settings

_DATE_FILTER = re.compile(r"\d{4}(?:-\d{2}){0,2}")
_MAX_FILTER_VALUES = 20  # a list of regions/doc ids (Python API)
_SCAN_PER_TURN = 50  # history items looked at per user turn kept (assistant turns in between)


def bounded_history(history: object, settings: Settings) -> list:
    """The most recent ``max_history_turns`` user turns, each at most ``max_question_chars``
    long, in the shape they came in (``{"role", "content"}`` dicts or ``(user, bot)`` pairs).

    A longer turn was refused when it was asked, so it carries no context and is dropped;
    assistant turns are never read for context, so they are dropped too.
    """
    if not isinstance(history, (list, tuple)):
        return []
    kept: list = []
    for item in reversed(history[-settings.max_history_turns * _SCAN_PER_TURN:]):
        if len(kept) >= settings.max_history_turns:
            break
        if isinstance(item, dict):
            if item.get("role") != "user":
                continue
            content = item.get("content")
        elif isinstance(item, (list, tuple)) and item:
            content = item[0]
        else:
            continue
        if _text_size(content, settings.max_question_chars) <= settings.max_question_chars:
            kept.append(item)
    return kept[::-1]


def _text_size(content: object, limit: int, depth: int = 0) -> int:
    """Characters of text in a message's content (a string, a ``{"text"}`` part or a list of
    parts), counted only until ``limit`` is passed; odd shapes count as too long."""
    if isinstance(content, str):
        return len(content)
    if content is None:
        return 0
    if depth > 2:
        return limit + 1
    if isinstance(content, dict):
        return _text_size(content.get("text"), limit, depth + 1)
    if isinstance(content, (list, tuple)):
        total = 0
        for part in content:
            total += _text_size(part, limit, depth + 1)
            if total > limit:
                break
        return total
    return limit + 1


def check_query(query: object, settings: Settings) -> str:
    """A search query as a stripped string within the question limit, else ``ValueError``."""
    if query is None:
        return ""
    if not isinstance(query, str):
        raise ValueError("查询必须是文字")
    if len(query) > settings.max_question_chars * 4 or len(query.strip()) > settings.max_question_chars:
        raise ValueError(f"查询太长了（{len(query.strip())} 字），请精简到 {settings.max_question_chars} 字以内")
    return query.strip()


def check_k(k: object, settings: Settings, default: int = 5) -> int:
    """How many hits to return: a whole number clamped to 1 .. ``max_search_k``."""
    if k is None or k == "":
        return default
    try:
        value = float(k) if not isinstance(k, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"k 必须是 1 到 {settings.max_search_k} 之间的整数")
    return max(1, min(int(value), settings.max_search_k))


def check_filters(filters: dict | None, settings: Settings) -> dict | None:
    """Filters with short string values (or short lists of them) and ISO date prefixes."""
    if not filters:
        return None
    for key, value in filters.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if len(values) > _MAX_FILTER_VALUES or not all(isinstance(v, str) for v in values):
            raise ValueError(f"筛选条件 {str(key)[:20]} 的取值无效")
        if any(len(v) > settings.max_filter_chars for v in values):
            raise ValueError(f"筛选条件 {str(key)[:20]} 太长（最多 {settings.max_filter_chars} 字）")
        if key in ("date_from", "date_to") and not all(_DATE_FILTER.fullmatch(v) for v in values):
            raise ValueError(f"日期应写成 2022、2022-06 或 2022-06-30 的形式，而不是 {values[0][:20]!r}")
    return filters
