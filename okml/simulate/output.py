"""Putting a simulated file or folder in place so that a failure never leaves half of it.

:func:`atomic_output` builds the output under a hidden temporary name next to it and renames
it onto the output at the end, replacing what was there (a file or a folder) only then. The
names follow :mod:`okml.io`, carrying the writer (host and process id) so that a later run can
tell the leftovers of a killed writer from the work of a live one:

* ``.NAME.HOST-PID.XXXXXXXX.tmp``: a file being written (what :func:`okml.io.atomic_path` uses,
  so :func:`okml.io.remove_stale_tmp` clears them);
* ``.NAME.HOST-PID.XXXXXXXX.tmpdir``: a folder being written;
* ``.NAME.HOST-PID.XXXXXXXX.old``: the previous output, moved aside for the moment of the swap.

:func:`remove_stale_outputs` clears the last two (``remove_stale_tmp`` removes only files).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from okml.io import STALE_AFTER_S, _host, process_alive, remove_stale_tmp

log = logging.getLogger(__name__)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _writer(final: Path) -> str:
    return f".{final.name}.{_host()}-{os.getpid()}."


def remove_stale_outputs(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary folders and set-aside old outputs that killed writers of ``path``
    left next to it, as :func:`okml.io.remove_stale_tmp` does for temporary files: one of this
    host when its writer is dead, one of another host when untouched for
    :data:`okml.io.STALE_AFTER_S` seconds. Returns what was removed."""
    final = Path(path)
    pattern = re.compile(rf"\.{re.escape(final.name)}\.([A-Za-z0-9-]+)-(\d+)\.[a-z0-9_]+\.(?:tmpdir|old)")
    removed: list[Path] = []
    try:
        candidates = list(final.parent.glob(f".{glob.escape(final.name)}.*"))
    except OSError:
        return removed
    now = time.time()
    for entry in candidates:
        m = pattern.fullmatch(entry.name)
        if not m:
            continue
        host, pid = m.group(1), m.group(2)
        try:
            idle = now - entry.lstat().st_mtime
        except FileNotFoundError:
            continue
        if host == _host():
            stale, why = not process_alive(int(pid)), f"its writer (process {pid}) is gone"
        else:
            stale, why = idle > STALE_AFTER_S, f"untouched for {idle / 60:.0f} minutes"
        if not stale:
            continue
        try:
            _remove(entry)
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("could not remove %s, left by an interrupted write: %s", entry, e)
            continue
        log.warning("removed %s: left by an interrupted write (%s)", entry, why)
        removed.append(entry)
    return removed


def _swap(new: Path, final: Path) -> None:
    """Rename ``new`` onto ``final``, whatever is there (a file or a folder, which a rename
    cannot replace when it is not empty)."""
    if not os.path.lexists(final):
        os.replace(new, final)
        return
    old = final.parent / f"{_writer(final)}{secrets.token_hex(4)}.old"
    os.replace(final, old)
    try:
        os.replace(new, final)
    except BaseException:
        os.replace(old, final)
        raise
    _remove(old)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], folder: bool) -> Iterator[Path]:
    """Yield a temporary path next to ``path``: an empty folder (``folder``), else the name of
    a file to write; on success it replaces whatever is at ``path``, on failure it is removed.

    Leftovers of killed writers of ``path`` are removed first.

    >>> with atomic_output("data/raw/big", folder=True) as tmp:  # doctest: +SKIP
    ...     df.to_parquet(tmp / "part-00000.parquet")
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(final)
    remove_stale_outputs(final)
    if folder:
        tmp = Path(tempfile.mkdtemp(prefix=_writer(final), suffix=".tmpdir", dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=_writer(final), suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        # mkdtemp and mkstemp make private entries; data is meant to be shared
        os.chmod(tmp, 0o755 if folder else 0o644)
        _swap(tmp, final)
    finally:
        if os.path.lexists(tmp):
            _remove(tmp)
