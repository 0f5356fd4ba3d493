"""Start the web chat: ``python app.py [--host 127.0.0.1] [--port 7860]``.

The page comes up at once; the index is loaded, or built when missing, stale (corpus or
settings changed) or damaged, in the background while the page shows the progress.
A login is required whenever ``IPBOT_AUTH`` (``user:password[,...]``) is set, and binding to
anything but loopback requires it. Only ``IPBOT_ADMINS`` may add documents (see bot/access.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot.access import Access, is_loopback
from bot.cli import configure_logging
from bot.config import Settings
from bot.corpus import MAX_FILE_BYTES
from bot.service import Service
from bot.webapp import CSS, build_ui

log = logging.getLogger("ipbot.app")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="ipbot web chat")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--corpus", help="corpus folder (env IPBOT_CORPUS_DIR)")
    p.add_argument("--index", help="index folder (env IPBOT_INDEX_DIR)")
    args = p.parse_args(argv)
    configure_logging()

    try:
        settings = Settings.from_env(corpus_dir=args.corpus, index_dir=args.index)
        access = Access.from_settings(settings, args.host)
    except ValueError as exc:  # a clear one-line reason, not a traceback
        print(f"error: cannot start: {exc}", file=sys.stderr)
        return 2
    if not access.users and not is_loopback(args.host):
        print(f"error: binding to {args.host} exposes the bot beyond this machine; "
              "set IPBOT_AUTH=user:password to require a login", file=sys.stderr)
        return 2
    if access.users:
        log.warning("listening on %s with login required (IPBOT_AUTH)", args.host)
    if access.admins:
        log.info("documents may be added by: %s (IPBOT_ADMINS)", ", ".join(sorted(access.admins)))
    elif access.open_locally:
        log.info("documents may be added from this machine only (no login); set IPBOT_AUTH and IPBOT_ADMINS "
                 "before putting the page behind a proxy")
    else:
        log.warning("uploads are off: set IPBOT_ADMINS to the users (from IPBOT_AUTH) who may add documents")
    # the page comes up at once; the index loads (or builds, with progress on the page) meanwhile
    demo = build_ui(Service(settings).start(), settings, access=access)
    print(f"ipbot page on http://{args.host}:{args.port} (answers once the index is ready)", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, auth=list(access.users) or None, css=CSS, footer_links=["api"], show_error=False,
                max_file_size=MAX_FILE_BYTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
