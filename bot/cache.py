"""Embedding cache: vectors keyed by model and passage text, so rebuilds embed only what changed.

One SQLite file beside the builds (``index/embedding-cache.sqlite``); entries that no live
chunk uses are pruned after each build, so removed documents leave nothing behind.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np

FILE = "embedding-cache.sqlite"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path))
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, dim INTEGER, vec BLOB, PRIMARY KEY (model, key))")

    @classmethod
    def for_index(cls, index_dir: Path) -> "EmbeddingCache":
        return cls(Path(index_dir) / FILE)

    def get(self, model: str, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(keys))
        for i in range(0, len(wanted), 500):
            batch = wanted[i : i + 500]
            rows = self.db.execute(
                f"SELECT key, dim, vec FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(batch))})", [model, *batch]
            )
            for key, dim, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape == (dim,):
                    found[key] = vec
        return found

    def put(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                [(model, k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )

    def prune(self, model: str, keep: set[str]) -> int:
        """Drop this model's entries that no live chunk uses; returns how many went."""
        with self.db:
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (key TEXT PRIMARY KEY)")
            self.db.execute("DELETE FROM keep")
            self.db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keep])
            cur = self.db.execute("DELETE FROM vectors WHERE model = ? AND key NOT IN (SELECT key FROM keep)", [model])
            return cur.rowcount

    def close(self) -> None:
        self.db.close()
