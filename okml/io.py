"""Writing files so that a failure never leaves a half-written output behind.

Temporary names carry their writer (host and process id) so that a later run can tell the
leftovers of a killed writer from the files of one that is still writing:

* ``.NAME.HOST-PID.XXXXXXXX.tmp`` next to an output ``NAME`` (:func:`atomic_path`);
* ``okml-WHAT-PID-...`` in the system temp folder (:func:`temp_prefix`: kernel sockets, the
  training run's scratch folder).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

# a temp file whose writer cannot be checked (another host, or the older name without a writer)
# is taken as abandoned once untouched this long: writers fill their temp file right after
# creating it, so a live one is never idle for minutes
STALE_AFTER_S = 600.0
_RANDOM = r"[a-z0-9_]+"  # what tempfile adds to a prefix


def _host() -> str:
    """This machine's short host name, safe inside a file name."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "host"


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process on this machine (zombies count as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def temp_prefix(what: str) -> str:
    """``okml-WHAT-PID-``: a prefix for names in the system temp folder that
    :func:`remove_stale_temp` removes once this process is gone."""
    return f"okml-{what}-{os.getpid()}-"


def remove_stale_temp(folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove ``okml-WHAT-PID-*`` entries of the temp folder whose process is dead (left by a
    killed job: kernel sockets and connection files, scratch folders). The temp folder is
    local to this machine, so the process id says it all. Returns what was removed."""
    folder = Path(folder or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        m = re.match(r"okml-[a-z]+-(\d+)-", entry.name)
        if not m or process_alive(int(m.group(1))):
            continue
        try:
            if uid is not None and entry.lstat().st_uid != uid:
                continue  # another user's (a shared /tmp): not ours to remove
        except FileNotFoundError:
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("could not remove %s, left by stopped process %s: %s", entry, m.group(1), e)
            continue
        removed.append(entry)
    if removed:
        log.info("removed %d temporary file(s) of stopped okml processes from %s", len(removed), folder)
    return removed


def remove_stale_tmp(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temp files that killed writers of ``path`` left next to it.

    Only ``.NAME.*.tmp`` files of this very output are considered. One whose writer ran on
    this host is removed when that process is dead; one from another host, or in the older
    naming without a writer, when it is untouched for :data:`STALE_AFTER_S` seconds. A writer
    that is still at work is never disturbed. Returns the removed files.
    """
    final = Path(path)
    pattern = re.compile(rf"\.{re.escape(final.name)}\.(?:([A-Za-z0-9-]+)-(\d+)\.)?{_RANDOM}\.tmp")
    removed: list[Path] = []
    try:
        candidates = list(final.parent.glob(f".{glob.escape(final.name)}.*.tmp"))
    except OSError:
        return removed
    now = time.time()
    for tmp in candidates:
        m = pattern.fullmatch(tmp.name)
        if not m:
            continue
        host, pid = m.group(1), m.group(2)
        try:
            idle = now - tmp.stat().st_mtime
        except FileNotFoundError:
            continue
        if host == _host():
            stale, why = not process_alive(int(pid)), f"its writer (process {pid}) is gone"
        else:
            stale, why = idle > STALE_AFTER_S, f"untouched for {idle / 60:.0f} minutes"
        if not stale:
            continue
        try:
            tmp.unlink()
        except FileNotFoundError:
            continue
        log.warning("removed %s: a temporary file of an interrupted write (%s)", tmp, why)
        removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    Temp files that killed writers of ``path`` left behind are removed first.

    >>> with atomic_path("out.parquet") as tmp:  # doctest: +SKIP
    ...     df.to_parquet(tmp)
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(final)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.name}.{_host()}-{os.getpid()}.", suffix=".tmp", dir=final.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; outputs (reports, data) are meant to be shared
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_parquet(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to Parquet atomically and return the final path."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write text atomically (UTF-8) and return the final path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
