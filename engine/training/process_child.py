"""The inside of the training process: import torch once, then run fit() jobs one at a time on this
process's main thread, sending every event back over the pipe.

Why a process: PyTorch's CPU kernels run about twice as fast on a process's main thread as on a worker
thread of a busy GUI process (OpenMP thread teams, and the GIL shared with painting). The parent only
ever sees plain events, exactly those fit() yields to the command line.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.training.control import TrainControl

NICENESS = 5   # how much lower than the app's the training process's priority is (Unix nice levels)

# What the parent sends: ("job", Job) or ("quit",). What comes back: ("ready", pid) once, then per job
# ("event", event) ... ("done", None).


def child_main(conn: multiprocessing.connection.Connection, control: TrainControl) -> None:
    """Entry point of the child process (multiprocessing spawn target)."""
    # Ctrl-C in the terminal reaches the whole process group; the app decides how a run stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    _yield_to_the_window()
    import torch  # noqa: F401  (warm: the imports are paid before the first Start)

    from engine.training import loop  # noqa: F401

    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return                      # the parent has gone
        except Exception as exc:        # a job that cannot be unpickled: say so, stay ready for the next
            if not _send(conn, ("event", _failed(exc))) or not _send(conn, ("done", None)):
                return
            continue
        if message[0] != "job":
            return
        ok = _run_job(conn, control, message[1])
        message = None          # drop the job's data set before waiting for the next job
        if not ok:
            return


def _run_job(conn, control, job) -> bool:
    """Run one job; False when the parent can no longer be reached."""
    import torch

    from engine.training.loop import fit

    try:
        for fn in job.setup:
            fn()
        if job.threads:
            torch.set_num_threads(job.threads)
        for event in fit(job.graph, job.data, job.config, control=control, run_dir=job.run_dir, probe=job.probe,
                         resume=job.resume):
            if not _send(conn, ("event", event)):
                return False
    except Exception as exc:   # fit() turns its own faults into events; this is the safety net
        if not _send(conn, ("event", _failed(exc))):
            return False
    _give_memory_back()        # before "done": the next run, and a memory reading, find it trimmed
    return _send(conn, ("done", None))


def _give_memory_back() -> None:
    """Between runs: collect the run's objects and hand freed heap pages back to the system (glibc keeps
    them otherwise), so a process that waits for the next run does not hold the last one's peak."""
    import gc

    gc.collect()
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc (macOS, Windows, musl): nothing to trim
        pass


def _send(conn, message) -> bool:
    try:
        conn.send(message)
        return True
    except (OSError, EOFError, ValueError):
        return False


def _failed(exc):
    from engine.training.events import Failed

    return Failed(reason=f"The training process stopped with an unexpected error: {type(exc).__name__}: {exc}",
                  detail=traceback.format_exc())


def _yield_to_the_window() -> None:
    """Run at a slightly lower priority than the app. Training keeps every core busy, and a repaint of the
    window that needs a few milliseconds of CPU then waited behind it for tens of milliseconds. The window
    uses a few percent of a core, so this costs training next to nothing; on an otherwise idle machine
    it costs nothing at all."""
    try:
        if hasattr(os, "nice"):
            os.nice(NICENESS)
        elif sys.platform == "win32":
            import ctypes
            kernel32 = ctypes.windll.kernel32
            kernel32.SetPriorityClass(kernel32.GetCurrentProcess(), 0x00004000)   # BELOW_NORMAL_PRIORITY_CLASS
    except (OSError, AttributeError):   # not allowed here: train at normal priority
        pass


def _exit_with_parent() -> None:
    """End this process as soon as the app's process ends, even while a run is paused: a watcher thread
    blocks on the parent's sentinel (no polling, so it never competes with training for the GIL)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch():
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
