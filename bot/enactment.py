"""When a law was made, changed or took effect (专利法什么时候施行的, 商标法修改过几次).

The answer is in the law's history lines (…通过, …第四次修正) and its 施行 article, not in an
article that happens to hold a date; a date the text does not state is said to be missing.
"""

from __future__ import annotations

import re

from .compose import Answer, Quote, quoted
from .query import TIMES_CHANGED
from .retrieval import Hit
from .statute import FULL_DATE, IN_FORCE, book_title, chinese_date, date_in, history_lines

MADE = ("通过", "颁布", "公布", "发布", "出台", "制定")
CHANGED = ("修改", "修订", "修正")
IN_FORCE_EVENTS = ("施行", "实施", "实行", "生效")

MSG_NO_DATE = "资料库中的{title}文本没有写明它{what}的日期。"
MSG_ONLY_IN_FORCE = "文本只写明它自{date}起施行。"
MSG_TIMES_CHANGED = "资料库中的{title}文本列出了 **{count}** 次修改："
MSG_NEVER_CHANGED = "资料库中的{title}文本没有修改记录，只有："
MSG_NEWER_TEXT = "{which}是 **{date}** 的版本（资料库中这一版本的文本没有列出这次修改）。"
MSG_FIRST_IN_FORCE = "这是最初施行的日期。{which}是 {version} 修改的版本，资料库中的文本没有写明这次修改的施行日期。"
MSG_SUPERSEDED = "注意：这是 {date} 的版本，已被 {current} 的版本取代。"


def compose_history(event: str, title: str, version: str, effective: str, preamble: Hit | None,
                    in_force: Hit | None, query: str, current: str = "") -> Answer:
    """The asked date first, then the history lines and (for 施行) the 施行 article, each cited;
    ``current`` is the date of the version that superseded this one, if any."""
    name = book_title(title)
    lines = history_lines(preamble.text) if preamble else []
    force = IN_FORCE.search(in_force.text) if in_force and event in IN_FORCE_EVENTS else None
    head = _headline(event, name, lines, version, effective, force, "这一文本" if current else "现行文本")
    if head and current:
        head += "\n\n" + MSG_SUPERSEDED.format(date=chinese_date(version), current=chinese_date(current))
    if not head:
        text = MSG_NO_DATE.format(title=name, what="施行" if event in IN_FORCE_EVENTS else "通过和修改")
        if effective and event not in IN_FORCE_EVENTS:
            text += MSG_ONLY_IN_FORCE.format(date=chinese_date(effective))
        return Answer(text, [h for h in (preamble, in_force) if h], False, query=query)
    parts, hits, quotes = [head], [], []
    if lines:
        hits.append(preamble)
        body = "\n".join(lines)
        start, end = preamble.text.find(lines[0]), preamble.text.find(lines[-1]) + len(lines[-1])
        quotes.append(Quote(len(hits), body, max(0, start), end, name))
        parts += [f"{name}的制定和修改 [{len(hits)}]：", f"{quoted(body)} [{len(hits)}]"]
    if force:
        hits.append(in_force)
        quotes.append(Quote(len(hits), force.group(), force.start(), force.end(), in_force.citation))
        parts += [f"依据{in_force.citation} [{len(hits)}]：", f"{quoted(force.group())} [{len(hits)}]"]
    return Answer("\n\n".join(parts), hits, True, quotes, query=query)


def _headline(event: str, name: str, lines: list[str], version: str, effective: str, force: re.Match | None,
              which: str) -> str:
    """The asked date in bold, or "" when the text does not state it."""
    # the file's version can be newer than its last history line (软件保护条例 2013 lists 2011)
    newer = MSG_NEWER_TEXT.format(which=which, date=chinese_date(version)) if lines and version > date_in(lines[-1]) else ""
    if event == TIMES_CHANGED:
        count = sum(1 for line in lines if any(word in line for word in CHANGED))
        return "\n\n".join(filter(None, [MSG_TIMES_CHANGED.format(title=name, count=count), newer])) if lines else ""
    if event in MADE:
        return _bold_date(lines[0]) if lines else ""
    if event in CHANGED:
        if not lines:
            return ""
        return newer or (_bold_date(lines[-1]) if len(lines) > 1 else MSG_NEVER_CHANGED.format(title=name))
    if effective:
        return f"**{chinese_date(effective)}**起施行"
    if not force:
        return ""
    first = date_in(force.group()) < version  # 本法自1985年4月1日起施行 in the 2020 text
    return _bold_date(force.group()) + ("\n\n" + MSG_FIRST_IN_FORCE.format(which=which, version=chinese_date(version)) if first else "")


def _bold_date(line: str) -> str:
    date = FULL_DATE.search(line)
    return line.replace(date.group(), f"**{date.group()}**", 1) if date else line
