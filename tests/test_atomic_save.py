"""Saving never loses work: processes killed (SIGKILL) at random moments while saving a multi-megabyte design
over an existing one, and saves failing at every step (disk full, fsync, rename), always leave a design
file that loads and is exactly the old or the new version, and a backup that is the version before.

The kill tests run the real writer (engine.atomic_write, which save_graph and bundle saves use) in a child
process that saves over and over until it is killed; the stdlib-only writer starts in ~50 ms, so many kill
points are affordable. One child runs save_graph itself (registry and all) for the end-to-end path.
"""
from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import engine.atomic_write as atomic_write
from engine.atomic_write import backup_path, write_text_atomic
from engine.graph import EdgeSpec, GraphSpec, LayerSpec
from engine.graph_io import graph_to_json, load_graph, save_graph
from engine.interchange.bundle import Bundle, load_bundle, save_bundle
from engine.registry import get_kind
from engine.templates import load_template

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "@VERSION@"
KILLS_DEFAULT = 10
KILLS_SOAK = 300

# Saves v1, v2, ... over TARGET until killed. "ready" goes out once, before the first save.
WRITER = f"""
import sys
from pathlib import Path
from engine.atomic_write import write_text_atomic
target, template = Path(sys.argv[1]), Path(sys.argv[2]).read_text(encoding="utf-8")
print("ready", flush=True)
i = 0
while True:
    i += 1
    write_text_atomic(target, template.replace("{PLACEHOLDER}", "v%d" % i), backup=True)
"""

# The same through save_graph: the design is built, serialised and saved by the app's own code.
GRAPH_WRITER = """
import sys
from dataclasses import replace
from engine.graph_io import load_graph, save_graph
target, base = sys.argv[1], load_graph(sys.argv[2])
print("ready", flush=True)
i = 0
while True:
    i += 1
    save_graph(replace(base, name="v%d" % i), target)
"""


def big_design(layers: int = 2000) -> GraphSpec:
    """A 2,000-layer chain with long labels: about 4 MB of JSON, so a save takes long enough to be cut."""
    label = "padding so that the file is several megabytes; " * 30
    nodes = [LayerSpec("input_1", "Input", {"channels": 3, "height": 32, "width": 32})]
    for i in range(1, layers + 1):
        kind = ("Conv2d", {"out_channels": 8}) if i % 2 else ("ReLU", {})
        nodes.append(LayerSpec(f"{kind[0].lower()}_{i}", kind[0], get_kind(kind[0]).normalize(kind[1]),
                               (float(i * 10), 0.0), label[:1900]))
    nodes.append(LayerSpec("output_1", "Output", get_kind("Output").normalize({"classes": 10})))
    edges = [EdgeSpec(a.id, b.id, 0) for a, b in zip(nodes, nodes[1:])]
    return GraphSpec(tuple(nodes), tuple(edges), "initial", "")


@pytest.fixture(scope="module")
def design():
    return big_design()


@pytest.fixture
def target(tmp_path, design):
    path = tmp_path / "design.json"
    save_graph(design, path)
    return path


def versions_on_disk(path: Path, design: GraphSpec) -> tuple:
    """(name of the design in `path`, name of the one in its backup or None); each must load completely
    and equal the saved design exactly, which a truncated or mixed file cannot."""
    def saved_version(p: Path):
        loaded = load_graph(p)
        assert loaded == replace(design, name=loaded.name), f"{p.name} is not a complete saved version"
        return loaded.name

    backup = backup_path(path)
    return saved_version(path), saved_version(backup) if backup.exists() else None


def version_number(name: str) -> int:
    return 0 if name == "initial" else int(name[1:])


def temporaries(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def kill_while_saving(script: str, args: list, delay: float) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE, env=env,
                             cwd=ROOT)
    try:
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(delay)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL  # it was still saving: killed, not finished or crashed


def check_after_kill(target: Path, design: GraphSpec, outcomes: dict) -> None:
    current, backup = versions_on_disk(target, design)
    n = version_number(current)
    if n == 0:  # the first save was cut: the backup is whatever the last completed save kept
        outcomes["old version (first save cut)"] = outcomes.get("old version (first save cut)", 0) + 1
    elif backup == current:  # killed after keeping the backup and before the rename: the old file, twice
        outcomes["old version, backup already made"] = outcomes.get("old version, backup already made", 0) + 1
    else:
        assert version_number(backup) == n - 1, f"backup {backup} is not the version before {current}"
        outcomes["a complete version, backup the one before"] = \
            outcomes.get("a complete version, backup the one before", 0) + 1
    # Whatever a killed save left behind is hidden, not a design, and removed by the next save.
    left = temporaries(target.parent)
    assert all(name.startswith(".") and not name.endswith(".json") for name in left)
    outcomes["temporary files left by the kill"] = outcomes.get("temporary files left by the kill", 0) + len(left)
    save_graph(design, target)  # "initial" again: the next child's v1 must keep it as the backup
    assert temporaries(target.parent) == []


def run_kills(target: Path, design: GraphSpec, kills: int, seed: int) -> dict:
    template = target.parent / "template.txt"
    template.write_text(graph_to_json(replace(design, name=PLACEHOLDER)) + "\n", encoding="utf-8")
    rng = random.Random(seed)
    outcomes: dict = {}
    for _ in range(kills):
        kill_while_saving(WRITER, [target, template], rng.uniform(0.0, 0.25))
        check_after_kill(target, design, outcomes)
    return outcomes


def test_killed_saves_leave_the_old_or_the_new_version(target, design):
    assert target.stat().st_size > 3_000_000
    outcomes = run_kills(target, design, KILLS_DEFAULT, seed=1)
    assert sum(v for k, v in outcomes.items() if not k.startswith("temporary")) == KILLS_DEFAULT


@pytest.mark.soak
def test_killed_saves_soak(target, design):
    outcomes = run_kills(target, design, KILLS_SOAK, seed=2)
    print(f"\n{KILLS_SOAK} kills while saving a {target.stat().st_size / 1e6:.1f} MB design: {outcomes}")
    assert sum(v for k, v in outcomes.items() if not k.startswith("temporary")) == KILLS_SOAK


def test_killed_save_graph_process(target, design):
    """End to end through save_graph in a process of its own (it loads the layer registry and PyTorch)."""
    source = target.parent / "source.json"
    save_graph(design, source)
    outcomes: dict = {}
    kill_while_saving(GRAPH_WRITER, [target, source], 1.0)
    check_after_kill(target, design, outcomes)


# ---- deterministic failures at each step of a save --------------------------------------------------

def previous_and_new(tmp_path):
    path = tmp_path / "design.json"
    old, new = load_template("lenet5"), load_template("nin")
    save_graph(load_template("small_resnet"), path)
    save_graph(old, path)
    return path, old, new


def assert_nothing_lost(path, old, backup_names):
    assert load_graph(path) == old
    assert load_graph(backup_path(path)).name in backup_names
    assert temporaries(path.parent) == []


def test_disk_full_while_writing_keeps_the_old_file(tmp_path, monkeypatch):
    path, old, new = previous_and_new(tmp_path)

    class HalfWrites:
        """A file that accepts half of what is written, then reports a full disk."""

        def __init__(self, f):
            self.f = f

        def write(self, text):
            self.f.write(text[:len(text) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(atomic_write, "open", lambda *a, **k: HalfWrites(open(*a, **k)), raising=False)
    with pytest.raises(OSError, match="No space left"):
        save_graph(new, path)
    assert_nothing_lost(path, old, {load_template("small_resnet").name})


@pytest.mark.parametrize("failing_call", [1, 2])
def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch, failing_call):
    """Call 1 is the rename that makes the backup, call 2 the one that replaces the design."""
    path, old, new = previous_and_new(tmp_path)
    real, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == failing_call:
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(atomic_write.os, "replace", flaky)
    with pytest.raises(OSError, match="Input/output"):
        save_graph(new, path)
    # Before the backup rename the backup is still the older version; after it, it is the current one.
    assert_nothing_lost(path, old, {load_template("small_resnet").name} if failing_call == 1 else {old.name})


def test_failed_fsync_keeps_the_old_file_and_backup(tmp_path, monkeypatch):
    path, old, new = previous_and_new(tmp_path)
    monkeypatch.setattr(atomic_write.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError):
        save_graph(new, path)
    assert_nothing_lost(path, old, {load_template("small_resnet").name})


def test_backup_is_copied_where_hard_links_are_not_supported(tmp_path, monkeypatch):
    path, old, new = previous_and_new(tmp_path)
    monkeypatch.setattr(atomic_write.os, "link", lambda *a: (_ for _ in ()).throw(OSError(errno.EPERM, "no links")))
    save_graph(new, path)
    assert load_graph(path) == new and load_graph(backup_path(path)) == old
    assert os.stat(path).st_ino != os.stat(backup_path(path)).st_ino


def test_backup_is_replaced_on_every_save_and_the_design_keeps_its_permissions(tmp_path):
    path = tmp_path / "design.json"
    names = ["lenet5", "nin", "small_resnet", "inception"]
    for key in names:
        save_graph(load_template(key), path)
        if key == "lenet5":
            os.chmod(path, 0o640)
    assert load_graph(path) == load_template("inception")
    assert load_graph(backup_path(path)) == load_template("small_resnet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design.json", "design.json.bak"]
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_saving_through_a_symbolic_link_updates_its_target(tmp_path):
    real = tmp_path / "real.json"
    save_graph(load_template("lenet5"), real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    save_graph(load_template("nin"), link)
    assert link.is_symlink() and load_graph(real) == load_template("nin")
    assert load_graph(backup_path(real)) == load_template("lenet5")


def test_stale_temporaries_of_a_dead_process_go_but_a_live_ones_stay(tmp_path):
    path = tmp_path / "design.json"
    save_graph(load_template("lenet5"), path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".design.json.{int(dead.stdout)}-abc123.tmp"
    live = tmp_path / f".design.json.{os.getppid()}-def456.tmp"  # the parent (pytest's launcher) is alive
    for p in (stale, live):
        p.write_text("{half a design", encoding="utf-8")
    write_text_atomic(path, graph_to_json(load_template("nin")))
    assert not stale.exists() and live.exists()


def test_project_bundle_save_keeps_a_backup_that_opens(tmp_path, monkeypatch):
    path = tmp_path / "project.cnnd"
    save_bundle(Bundle(graph=load_template("lenet5")), path)
    save_bundle(Bundle(graph=load_template("nin")), path)
    assert load_bundle(path).graph == load_template("nin")
    assert load_bundle(backup_path(path)).graph == load_template("lenet5")

    def broken_run_save(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    class Run:
        id = "run_1"
        save = broken_run_save

    with pytest.raises(OSError):
        save_bundle(Bundle(graph=load_template("inception"), runs=[Run()], dataset={"key": "generated_digits"}), path)
    assert load_bundle(path).graph == load_template("nin")
    assert temporaries(tmp_path) == []


def test_a_set_of_files_is_written_before_any_is_replaced(tmp_path, monkeypatch):
    """write_texts_atomic writes and fsyncs every new version before the first rename: a full disk on the last
    file leaves all of them as they were, and a good save renames them in the order given."""
    from engine.atomic_write import write_texts_atomic

    paths = [tmp_path / name for name in ("a.csv", "b.csv", "metrics.json")]
    for p in paths:
        p.write_text("old")
    real_open, opened = open, []

    def full_on_last(file, *a, **k):
        opened.append(Path(file).name)
        if len(opened) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(file, *a, **k)

    monkeypatch.setattr(atomic_write, "open", full_on_last, raising=False)
    with pytest.raises(OSError, match="No space left"):
        write_texts_atomic({p: "new" for p in paths})
    assert [p.read_text() for p in paths] == ["old"] * 3 and temporaries(tmp_path) == []
    monkeypatch.undo()
    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(atomic_write.os, "replace", lambda a, b: renamed.append(Path(b).name) or real_replace(a, b))
    write_texts_atomic({p: f"new {p.name}" for p in paths})
    assert renamed == ["a.csv", "b.csv", "metrics.json"]
    assert [p.read_text() for p in paths] == [f"new {p.name}" for p in paths] and temporaries(tmp_path) == []
