"""Worker processes that end with the process that started them.

A pool's workers outlive a parent killed with SIGKILL (no clean-up code runs in the parent), and
go on rendering or decoding for minutes. :func:`die_with_parent`, called first in a worker,
ends it within about a second of the parent's death: on Linux the kernel sends it SIGKILL when
its parent process ends (``prctl(PR_SET_PDEATHSIG)``), and on every platform a daemon thread
checks once a second that the starting process still exists.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def die_with_parent(owner_pid: int) -> None:
    """End this process when ``owner_pid`` (the process that started the pool) ends.

    Args:
        owner_pid: The pid of the process the work is done for. With a fork server it is not
            this process's direct parent; both deaths end the worker.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not _alive(owner_pid):
        os._exit(1)
    watch = threading.Thread(target=_exit_when_gone, args=(owner_pid,), daemon=True)
    watch.start()


def _exit_when_gone(pid: int) -> None:
    while _alive(pid):
        time.sleep(POLL_SECONDS)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process not yet reaped by its own parent still answers ``kill(pid, 0)``."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
