"""Audit lines for opens in the mount: one JSON object per open, never the content (I/O shell)."""

from __future__ import annotations

import json
import os
import time

from fuse.filesystem import OpenEvent


def _command_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            return handle.read().decode("utf-8", "replace").rstrip("\n")
    except OSError:
        return ""


class AuditLog:
    """Appends ``{"time", "event", "path", "uid", "gid", "pid", "comm"[, "denied"]}`` lines to a file or stdout."""

    def __init__(self, target: str) -> None:
        if target == "-":
            self._fd = os.dup(1)
        else:
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def __call__(self, event: OpenEvent) -> None:
        now = time.time_ns()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 1_000_000_000))
        record: dict[str, object] = {
            "time": f"{stamp}.{now % 1_000_000_000 // 1000:06d}Z",
            "event": "open",
            "path": "/" + event.path,
            "uid": event.uid,
            "gid": event.gid,
            "pid": event.pid,
            "comm": _command_name(event.pid),
        }
        if event.denied:
            record["denied"] = True
        os.write(self._fd, json.dumps(record).encode() + b"\n")

    def close(self) -> None:
        os.close(self._fd)
