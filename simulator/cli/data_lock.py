"""One `serve` per SQLite data dir: a second one would run its own clock and scenario on the
same files. `serve` holds an exclusive lock (flock) on `<data dir>/serve.lock` while it runs;
the kernel lets go of it when the process ends, however it ends, so a crash leaves no stale
lock behind. The file names the holder's pid, for the refusal message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_FILE = "serve.lock"


class DataDirBusy(RuntimeError):
    pass


def hold(data_dir: Path) -> IO[str]:
    """Lock `data_dir` for this process; keep the returned file open as long as it serves.
    DataDirBusy, naming the holder, when another process holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    handle = path.open("a+", encoding="ascii")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise DataDirBusy(
            f"data dir {data_dir.resolve()} is in use by another `mycarenet-sim serve` "
            f"(pid {holder}): stop it, or give another --data-dir "
            "(several processes share one world with --store postgresql://...)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
