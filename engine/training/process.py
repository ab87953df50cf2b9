"""Train in a child process: fit() at command-line speed while the app's own process stays free to paint.

A `TrainingProcess` is one spawned child (see process_child) that has imported torch and waits for jobs.
`run()` sends a job (graph, data set, config) and yields the child's events, the same plain dataclasses
fit() yields anywhere else; the data set's tensors travel through shared memory, not as copies. Pause and
stop go through the process's TrainControl, whose flags the child shares. If the child dies (killed, out
of memory, a crash in native code) the run ends with a Failed event that says so, and the app goes on.

A small pool keeps one warm child ready, so Start does not wait for torch to import.
"""
from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import pickle
import signal
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.training.control import TrainControl
from engine.training.events import Failed
from engine.training.process_child import child_main

if TYPE_CHECKING:
    import os

    import numpy as np
    import torch

    from engine.data.base import Dataset
    from engine.graph import GraphSpec
    from engine.training.config import TrainConfig
    from engine.training.events import Event

log = logging.getLogger(__name__)

# Functions (picklable: module-level, or functools.partial of one) each child calls before every job, e.g.
# to register extra layer kinds the child would otherwise not know.
SETUP_HOOKS: list = []
QUIT_TIMEOUT_S = 3.0


@dataclass
class Job:
    graph: object
    data: object
    config: object
    run_dir: object = None
    probe: object = None
    resume: object = None
    threads: int = 0          # torch intra-op threads for the child (0 = its default)
    setup: tuple = ()


class TrainingProcess:
    """One child process that runs fit() jobs one at a time. Drive run() from one thread; the control
    methods (pause, resume, stop, abort via `control`) work from any thread."""

    def __init__(self):
        context = multiprocessing.get_context("spawn")   # fork is unsafe with threads, CUDA and Qt
        self.control = TrainControl.across_processes(context)
        ours, theirs = context.Pipe()
        self._process = context.Process(target=child_main, args=(theirs, self.control), daemon=False,
                                        name="cnn-designer-training")
        with _without_main_module():
            self._process.start()
        theirs.close()
        self._conn = ours
        self._ready = False
        self.pid = self._process.pid
        self.broken = False       # died, or left in an unknown state: never reuse

    @property
    def alive(self) -> bool:
        return not self.broken and self._process.is_alive()

    def run(self, graph: GraphSpec, data: Dataset, config: TrainConfig, run_dir: str | os.PathLike[str] | None = None,
            probe: int | torch.Tensor | np.ndarray | None = None,
            resume: str | os.PathLike[str] | None = None) -> Iterator[Event]:
        """fit()'s events from the child; ends after Finished or Failed (Failed too when the child dies).

        The control is not reset here: a stop that comes before the run begins must hold (acquire() hands
        the process out with a fresh control)."""
        import torch
        import torch.multiprocessing  # noqa: F401  registers sharing of tensors through shared memory

        job = Job(graph, data, config, run_dir, probe, resume, torch.get_num_threads(), tuple(SETUP_HOOKS))
        try:
            self._wait_until_ready()
            self._send_job(job)
        except (OSError, EOFError, ValueError):
            yield self._died()
            return
        finally:
            job = None
        while True:
            try:
                kind, payload = self._conn.recv()
            except (OSError, EOFError, ValueError):
                yield self._died()
                return
            if kind == "done":
                return
            if kind == "event":
                yield payload

    def _send_job(self, job) -> None:
        try:
            self._conn.send(("job", job))       # tensors go through shared memory (torch's reductions)
        except RuntimeError as exc:
            # Shared memory full (a container's /dev/shm is often 64 MB): send a copy through the pipe instead.
            log.warning("cannot share the data set with the training process (%s); sending a copy", exc)
            self._conn.send_bytes(pickle.dumps(("job", job), protocol=pickle.HIGHEST_PROTOCOL))

    def close(self, timeout: float = QUIT_TIMEOUT_S) -> None:
        """End the child at once. It holds nothing worth saving between runs (a run's own stop writes its
        checkpoint first), and asking politely would make quitting wait while it is still importing torch."""
        self.broken = True
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout)
        self._conn.close()

    def kill(self) -> None:
        """End the child now (a run that does not stop in time); run() then yields a Failed event."""
        self.broken = True
        if self._process.is_alive():
            self._process.kill()

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the child to finish importing; True when it is ready."""
        if not self._ready and self._conn.poll(timeout):
            self._wait_until_ready()
        return self._ready

    def _wait_until_ready(self) -> None:
        if not self._ready:
            kind, _pid = self._conn.recv()
            if kind != "ready":
                raise EOFError(f"unexpected first message {kind!r} from the training process")
            self._ready = True

    def _died(self) -> Failed:
        self.broken = True
        self._process.join(2.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(2.0)
        return Failed(reason=death_reason(self._process.exitcode),
                      detail=f"training process {self.pid} exit code {self._process.exitcode}")


@contextlib.contextmanager
def _without_main_module():
    """Start a child without re-running the parent's main script in it. multiprocessing's spawn imports the
    parent's __main__ in the child (for targets defined there); ours lives in the engine, and a script
    without an `if __name__ == "__main__"` guard (a notebook, a user's own launcher, a benchmark) would
    otherwise build its whole window again inside the training process."""
    with _main_lock:
        main = sys.modules.get("__main__")
        stand_in = types.ModuleType("__main__")
        stand_in.__spec__ = None
        sys.modules["__main__"] = stand_in
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


_main_lock = threading.Lock()


def death_reason(exitcode: int | None) -> str:
    """One sentence for a training process that ended during a run, with what to do next."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == getattr(signal, "SIGKILL", 9):
            return ("The training process was killed (SIGKILL) during the run. On Linux this is usually the "
                    "system running out of memory; use a smaller batch size, data set or network, then press "
                    "Start again. The design and the finished epochs' checkpoints are kept.")
        return (f"The training process crashed ({name}) during the run. Press Start to try again; if it happens "
                f"again, try the CPU device or a smaller batch size.")
    return (f"The training process ended unexpectedly (exit code {exitcode}) during the run. Press Start to try "
            f"again; the design and the finished epochs' checkpoints are kept.")


# ---- the pool: one warm child kept ready --------------------------------------------------------------
_lock = threading.Lock()
_idle: list = []
_in_use: set = set()


def warm_up() -> None:
    """Start a child in the background if none is waiting, so the next run starts at once."""
    with _lock:
        _idle[:] = [p for p in _idle if p.alive]
        if not _idle:
            _idle.append(TrainingProcess())


def acquire() -> TrainingProcess:
    """A ready (or starting) child for one run; give it back with release()."""
    with _lock:
        while _idle:
            proc = _idle.pop()
            if proc.alive:
                break
        else:
            proc = TrainingProcess()
        proc.control.reset()
        _in_use.add(proc)
        return proc


def release(proc: TrainingProcess) -> None:
    """Keep a healthy child for the next run (one at most); end a broken or surplus one."""
    with _lock:
        _in_use.discard(proc)
        keep = proc.alive and not _idle
        if keep:
            _idle.append(proc)
    if not keep:
        log.info("ending training process %s: %s", proc.pid, "another one is already waiting" if proc.alive
                 else f"it broke (exit code {proc._process.exitcode})")
        proc.close()


def wait_idle_ready(timeout: float = 60.0) -> bool:
    """Wait until the waiting child (if any) has imported torch; for memory readings and benchmarks."""
    with _lock:
        idle = list(_idle)
    return all(proc.wait_ready(timeout) for proc in idle)


def running_pids() -> list:
    """Process ids of the live training children (idle or busy), for memory reports and tests."""
    with _lock:
        return [p.pid for p in (*_idle, *_in_use) if p._process.is_alive()]


def shutdown_all() -> None:
    """End every child (the app is quitting). Busy ones are told to stop first by their controllers."""
    with _lock:
        procs = [*_idle, *_in_use]
        _idle.clear()
        _in_use.clear()
    for proc in procs:
        proc.close()


atexit.register(shutdown_all)
