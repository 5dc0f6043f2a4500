"""An on-disk verdict cache (SQLite), so that a rerun or a resumed run never pays twice."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def cache_key(config: dict[str, Any], prompt: str, first: str, second: str) -> str:
    """sha256 over the judge's config (template included), the prompt and both responses.

    Example:

    >>> key = cache_key({"kind": "simulated", "position": 1.0}, "2+2?", "4", "5")
    >>> len(key), key == cache_key({"kind": "simulated", "position": 1.0}, "2+2?", "5", "4")
    (64, False)
    """
    payload = json.dumps([config, prompt, first, second], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class VerdictCache:
    """Successful judgments keyed by :func:`cache_key`; safe to share between threads.

    >>> import tempfile, os
    >>> c = VerdictCache(os.path.join(tempfile.mkdtemp(), "cache.sqlite"))
    >>> c.put_many([("k", 0.7, "A", 12, 0.01)]); c.get_many(["k", "missing"])
    {'k': (0.7, 'A', 12, 0.01)}
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # Several processes of one run (sharded judging) write the same file: WAL lets them
        # read while one writes, and a writer waits up to a minute for the lock.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=60.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, p_first REAL, "
            "raw TEXT, n_tokens INTEGER, latency_s REAL)"
        )
        self._conn.commit()

    def get_many(self, keys: Sequence[str]) -> dict[str, tuple[float, Any, int, float]]:
        """The cached rows among ``keys``."""
        found: dict[str, tuple[float, Any, int, float]] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, p_first, raw, n_tokens, latency_s FROM verdicts "
                    f"WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                for key, p, raw, ntok, lat in rows:
                    found[key] = (p, _load_raw(raw), ntok, lat)
        return found

    def put_many(self, rows: Iterable[tuple[str, float, Any, int, float]]) -> None:
        """Store rows ``(key, p_first, raw, n_tokens, latency_s)`` and commit at once."""
        rows = [(k, float(p), _dump_raw(r), int(n), float(t)) for k, p, r, n, t in rows]
        if not rows:
            return
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?)", rows)
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _dump_raw(raw: Any) -> str | None:
    return None if raw is None else json.dumps(raw, default=str)


def _load_raw(text: str | None) -> Any:
    return None if text is None else json.loads(text)
