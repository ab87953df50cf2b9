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


STREAM_WORKER = r'''
import json, os, sys
sys.path.insert(0, {repo!r})
import torch
torch.set_num_threads(1)
from engine.data import load_dataset
from engine.templates import load_template
from engine.training import Finished, TrainConfig, fit
from engine.training import batches
from engine.training.devices import init_from_torchrun
out, root = sys.argv[1], sys.argv[2]
world = init_from_torchrun("cpu")
data = load_dataset("folder", root=root, input_shape=(1, 28, 28), seed=0, data_mode="stream")
assert getattr(data.train.images, "lazy", False)
seen = {{}}
shard = batches.BatchSource.shard
def recording(self, epoch):
    order = shard(self, epoch)
    if self.name != "validation":
        seen[epoch] = [self.split.images.paths[i] for i in order.tolist()]
    return order
batches.BatchSource.shard = recording
graph = load_template("lenet5")
out_node = graph.nodes_of_kind("Output")[0]
graph = graph.with_params(out_node.id, {{**out_node.params, "classes": 2}})
head = graph.nodes_of_kind("Linear")[-1]
graph = graph.with_params(head.id, {{**head.params, "out_features": 2}})
events = list(fit(graph, data, TrainConfig(epochs=2, batch_size=8, device="cpu")))
assert isinstance(events[-1], Finished), events[-1]
with open(os.path.join(out, f"seen{{world.rank}}.json"), "w") as f:
    json.dump({{"seen": seen, "train": list(data.train.images.paths)}}, f)
torch.distributed.destroy_process_group()
'''


def test_two_processes_stream_a_folder_and_see_each_image_once_per_epoch(tmp_path):
    """A real torchrun job over a folder streamed from disk: in every epoch the two ranks read disjoint halves
    of the training images that together are all of them, reshuffled from one epoch to the next."""
    import json

    from PIL import Image

    root = tmp_path / "images"
    for k, cls in enumerate(("light", "dark")):
        (root / cls).mkdir(parents=True)
        for i in range(40):
            Image.new("L", (30, 30), 200 - 150 * k + i).save(root / cls / f"{i}.png")
    script = tmp_path / "worker.py"
    script.write_text(STREAM_WORKER.format(repo=str(REPO)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(tmp_path), str(root)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"seen{r}.json").read_text()) for r in (0, 1)]
    train = set(ranks[0]["train"])
    assert set(ranks[1]["train"]) == train and len(train) % 2 == 0
    for epoch in ("0", "1"):
        halves = [set(r["seen"][epoch]) for r in ranks]
        assert not halves[0] & halves[1] and halves[0] | halves[1] == train
    assert ranks[0]["seen"]["0"] != ranks[0]["seen"]["1"]
