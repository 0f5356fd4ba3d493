"""Parse untrusted files in a child process with a wall-time and a memory limit.

pypdf and python-docx are pure Python over zlib and lxml: a crafted file can make them loop,
recurse or inflate far beyond its size, and a thread cannot be stopped. A child process can:
it is killed when one file takes longer than the limit, and its address space is capped, so a
memory bomb fails there instead of in the server. The work also runs off the parent's GIL,
so chat users are not stalled while an upload is being parsed.

The child is a fresh interpreter (no fork of a threaded server) that serves calls one at a
time over a pipe and is reused until it has to be killed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
_START_TIMEOUT = 120.0  # seconds for the child to import its parsers


class ParseLimitError(ValueError):
    """A file broke a limit (time, memory) or crashed its parser; the file is skipped."""


class IsolatedParser:
    """Runs ``fn(*args)`` in a reusable child process: ``with IsolatedParser(60, 1024) as p: p.call(...)``.

    ``fn`` must be importable by name (a module-level function); its exceptions come back as
    ``ValueError`` with the original message.
    """

    def __init__(self, timeout: float, memory_mb: int) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._proc: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None

    def __enter__(self) -> "IsolatedParser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        assert self._send is not None and self._recv is not None
        try:
            self._send.send((fn, args))
            ready = self._recv.poll(self.timeout)
        except OSError as exc:
            self.close()
            raise ParseLimitError(f"the parser process failed ({exc})") from exc
        if not ready:
            self.close()
            raise ParseLimitError(f"reading took longer than {self.timeout:g} s")
        try:
            ok, value = self._recv.recv()
        except (EOFError, OSError) as exc:
            self.close()
            raise ParseLimitError(f"the parser crashed (over {self.memory_mb} MB of memory?)") from exc
        if ok:
            return value
        raise ValueError(value)

    def _start(self) -> None:
        self.close()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        code = f"from bot.isolation import serve; serve({to_child_r}, {from_child_w}, {self.memory_mb})"
        self._proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w), env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._send, self._recv = Connection(to_child_w, readable=False), Connection(from_child_r, writable=False)
        if not self._recv.poll(_START_TIMEOUT) or self._recv.recv() != "ready":
            self.close()
            raise ParseLimitError("the parser process did not start")

    def close(self) -> None:
        """Stop the child (killed: it may be stuck in a hostile file)."""
        for conn in (self._send, self._recv):
            if conn is not None:
                conn.close()
        self._send = self._recv = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None


def serve(read_fd: int, write_fd: int, memory_mb: int) -> None:
    """The child's loop: cap the address space, import the parsers, answer calls until EOF."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s (parser): %(message)s")
    try:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError) as exc:  # not on this platform: time limit only
        log.warning("cannot limit the parser's memory: %s", exc)
    import docx  # noqa: F401 - imported before the clock starts
    import pypdf  # noqa: F401

    import bot.corpus  # noqa: F401
    from bot.formats import first_line

    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    outbox.send("ready")
    while True:
        try:
            fn, args = inbox.recv()
        except (EOFError, OSError):
            return
        try:
            result = (True, fn(*args))
        except MemoryError:
            result = (False, f"needs more than {memory_mb} MB of memory")
        except RecursionError:
            result = (False, "nested too deeply")
        except Exception as exc:  # noqa: BLE001 - any failure is a reason to skip this one file
            result = (False, first_line(exc) or type(exc).__name__)
        outbox.send(result)
