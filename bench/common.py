"""Helpers shared by the benchmarks: timing, child processes, Markdown tables."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks.md"


def timed(fn, repeat: int) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls."""
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(round(0.95 * len(samples))) - 1)] * 1000


def run_child(code: str, env: dict | None = None) -> tuple[float, dict]:
    """Run ``code`` in a fresh interpreter; it must print one JSON object last. Returns the
    wall time and that object, with the child's peak RSS (VmHWM: unlike ru_maxrss it is not
    inherited from the parent through fork/exec)."""
    prologue = "import json\n"
    epilogue = (
        "\n_r['peak_rss_mb'] = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')][0] / 1024"
        "\nprint(json.dumps(_r))\n"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", prologue + code + epilogue], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, **(env or {})}, check=True)
    return time.perf_counter() - t0, json.loads(out.stdout.strip().splitlines()[-1])


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(title: str, body: str) -> None:
    """Replace (or add) one ``## title`` section of docs/benchmarks.md."""
    REPORT.parent.mkdir(exist_ok=True)
    text = REPORT.read_text(encoding="utf-8") if REPORT.exists() else "# Benchmarks\n\nRun with `make bench`.\n"
    marker = f"\n## {title}\n"
    section = f"{marker}\n{body.strip()}\n"
    if marker in text:
        head, rest = text.split(marker, 1)
        tail = rest[rest.index("\n## "):] if "\n## " in rest else ""
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n" + section
    REPORT.write_text(text, encoding="utf-8")
    print(f"\n## {title}\n\n{body.strip()}\n")
