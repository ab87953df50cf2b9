"""A real 2-process CPU job under torchrun (gloo): both ranks end with identical weights, each trained on
its own shard, and only rank 0 writes files."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

WORKER = r'''
import os, sys
sys.path.insert(0, {repo!r})
import numpy as np, torch
torch.set_num_threads(1)
from engine.data import load_dataset
from engine.templates import load_template
from engine.training import Finished, Failed, Started, TrainConfig, fit
from engine.training.devices import init_from_torchrun
out = sys.argv[1]
world = init_from_torchrun("cpu")
data = load_dataset("generated_digits", size=300, seed=0)
events = list(fit(load_template("lenet5"), data, TrainConfig(epochs=2, batch_size=16, device="cpu"),
                  run_dir=os.path.join(out, f"run{{world.rank}}")))
done = events[-1]
assert isinstance(done, Finished), done
start = events[0]
np.savez(os.path.join(out, f"weights{{world.rank}}.npz"), **done.weights)
with open(os.path.join(out, f"info{{world.rank}}.txt"), "w") as f:
    f.write(f"{{start.world_size}} {{start.steps_per_epoch}} {{done.test.accuracy}}")
torch.distributed.destroy_process_group()
'''


def test_two_process_cpu_job_ends_with_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(repo=str(REPO)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(tmp_path)], capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    w0, w1 = np.load(tmp_path / "weights0.npz"), np.load(tmp_path / "weights1.npz")
    assert set(w0.files) == set(w1.files)
    for k in w0.files:
        assert np.array_equal(w0[k], w1[k]), k
    size, steps, _ = (tmp_path / "info0.txt").read_text().split()
    assert size == "2"
    assert int(steps) == -(-(216 // 2) // 16)  # each rank gets half of the 216 training images
    assert (tmp_path / "run0" / "checkpoints" / "last.pt").is_file()
    assert not (tmp_path / "run1").exists()
