"""Start the web chat: ``python app.py [--host 127.0.0.1] [--port 7860]``.

The page comes up at once; the index is loaded, or built when missing, stale (corpus or
settings changed) or damaged, in the background while the page shows the progress.
Binding to anything but loopback requires credentials in ``IPBOT_AUTH`` (``user:password``).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys

from bot.cli import configure_logging
from bot.config import Settings
from bot.corpus import MAX_FILE_BYTES
from bot.service import Service
from bot.webapp import CSS, build_ui

log = logging.getLogger("ipbot.app")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="ipbot web chat")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--corpus", help="corpus folder (env IPBOT_CORPUS_DIR)")
    p.add_argument("--index", help="index folder (env IPBOT_INDEX_DIR)")
    args = p.parse_args(argv)
    configure_logging()

    auth = None
    if not is_loopback(args.host):
        creds = os.environ.get("IPBOT_AUTH", "")
        if ":" not in creds:
            print(f"error: binding to {args.host} exposes the bot beyond this machine; "
                  "set IPBOT_AUTH=user:password to require a login", file=sys.stderr)
            return 2
        user, password = creds.split(":", 1)
        auth = (user, password)
        log.warning("listening on %s with login required (IPBOT_AUTH)", args.host)

    try:
        settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index)
    except ValueError as exc:  # a clear one-line reason, not a traceback
        print(f"error: cannot start: {exc}", file=sys.stderr)
        return 2
    # the page comes up at once; the index loads (or builds, with progress on the page) meanwhile
    demo = build_ui(Service(settings).start(), settings)
    print(f"ipbot page on http://{args.host}:{args.port} (answers once the index is ready)", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, auth=auth, css=CSS, footer_links=["api"], show_error=False,
                max_file_size=MAX_FILE_BYTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
