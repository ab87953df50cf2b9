"""The training process without the app: one warm child runs fit() jobs one after another and yields the same
events fit() yields here; a stop given before the run begins holds; a data set that cannot go through shared
memory is sent as a copy; a dead child becomes one readable Failed event."""
import signal

import pytest

from engine.data import load_dataset
from engine.templates import load_template
from engine.training import process
from engine.training.config import TrainConfig
from engine.training.events import Failed, Finished, Started
from engine.training.loop import fit


@pytest.fixture(scope="module")
def digits():
    return load_dataset("generated_digits", size=200, seed=3)


CONFIG = TrainConfig(epochs=1, batch_size=32, seed=2, data_size=200)


def test_one_process_runs_job_after_job_with_the_events_fit_yields_here(digits):
    graph = load_template("lenet5")
    here = list(fit(graph, digits, CONFIG))
    proc = process.acquire()
    try:
        first = list(proc.run(graph, digits, CONFIG))
        proc.control.reset()
        second = list(proc.run(graph, digits, CONFIG))
    finally:
        process.release(proc)
    assert [type(e) for e in first] == [type(e) for e in here] == [type(e) for e in second]
    assert isinstance(first[-1], Finished) and proc.alive            # the same child, ready again
    assert first[0].train_size == here[0].train_size
    for name, value in here[-1].weights.items():
        assert first[-1].weights[name] == pytest.approx(value, rel=1e-4, abs=1e-6)
        assert second[-1].weights[name] == pytest.approx(value, rel=1e-4, abs=1e-6)


def test_a_stop_given_before_the_run_begins_holds(digits):
    proc = process.acquire()
    try:
        proc.control.stop()
        events = list(proc.run(load_template("lenet5"), digits, TrainConfig(epochs=50, batch_size=32, data_size=200)))
    finally:
        process.release(proc)
    assert isinstance(events[-1], Finished) and events[-1].stopped and events[-1].epochs_completed == 0


class NoSharedMemory:
    """A pipe whose pickler cannot put tensors into shared memory, as when /dev/shm is full."""

    def __init__(self, conn):
        self.conn, self.refused = conn, 0

    def send(self, message):
        if message[0] == "job":
            self.refused += 1
            raise RuntimeError("unable to write to file </torch_1_2_3>: No space left on device (28)")
        self.conn.send(message)

    def __getattr__(self, name):
        return getattr(self.conn, name)


def test_without_shared_memory_the_data_set_is_sent_as_a_copy(digits):
    proc = process.acquire()
    real = proc._conn
    proc._conn = NoSharedMemory(real)
    try:
        events = list(proc.run(load_template("lenet5"), digits, CONFIG))
    finally:
        proc._conn = real
        process.release(proc)
    assert proc._conn is real and isinstance(events[0], Started) and isinstance(events[-1], Finished)


def test_a_child_that_dies_becomes_one_failed_event(digits):
    proc = process.acquire()
    proc._wait_until_ready()
    proc._process.kill()
    events = list(proc.run(load_template("lenet5"), digits, CONFIG))
    process.release(proc)
    assert len(events) == 1 and isinstance(events[0], Failed) and "SIGKILL" in events[0].reason
    assert not proc.alive and proc.pid not in process.running_pids()


@pytest.mark.parametrize("code, words", [
    (-signal.SIGKILL, "killed (SIGKILL)"), (-signal.SIGSEGV, "crashed (SIGSEGV)"), (1, "exit code 1"),
])
def test_death_reasons_say_what_happened_and_what_to_do(code, words):
    reason = process.death_reason(code)
    assert words in reason and ("Start" in reason)


def test_a_script_without_a_main_guard_is_not_run_again_in_the_training_process(tmp_path):
    """spawn re-imports the parent's main script in the child; a launcher without the usual guard would build
    its window again in there (and start processes of its own)."""
    import subprocess
    import sys
    import textwrap

    marker = tmp_path / "runs.txt"
    script = tmp_path / "launcher.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        sys.path[:0] = {[p for p in sys.path if p]!r}
        with open({str(marker)!r}, "a") as f:
            f.write(str(os.getpid()) + "\\n")
        from engine.training import process
        proc = process.acquire()
        proc._wait_until_ready()
        print(proc.pid)
        process.shutdown_all()
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(marker.read_text().split()) == 1 and out.stdout.strip().isdigit()
