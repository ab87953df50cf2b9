"""The memory limit: a typo such as 1,000,000 outputs is refused with a clear message before anything is
allocated, on every path that builds a network (compile, training, feature maps, export, command line)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from engine import memory_limit
from engine.analysis import analyze
from engine.cli import run_command_line
from engine.compiler import GraphInvalidError, ResourceLimitError, compile_graph
from engine.graph_io import save_graph
from engine.memory_limit import GB, MB, check_memory, parse_size
from engine.templates import load_template

ROOT = Path(__file__).resolve().parents[1]


def with_params(graph, node_id, **params):
    return replace(graph, nodes=tuple(replace(n, params={**n.params, **params}) if n.id == node_id else n
                                      for n in graph.nodes))


@pytest.fixture(autouse=True)
def restore_limit():
    before, source = memory_limit.current_limit(), memory_limit.limit_source()
    yield
    memory_limit.set_limit(before, source)


@pytest.fixture(scope="module")
def alexnet_typo():
    """AlexNet whose first Linear got 1,000,000 outputs instead of 4,096."""
    return with_params(load_template("alexnet"), "linear_1", out_features=1_000_000)


def test_sizes_are_read_the_way_people_write_them():
    assert parse_size("4GB") == parse_size("4 gb") == parse_size("4") == parse_size("4G") == 4 * GB
    assert parse_size("1.5GB") == int(1.5 * GB)
    assert parse_size("512MB") == parse_size("512m") == 512 * MB
    assert parse_size("none") == parse_size("off") == parse_size("0") == memory_limit.NO_LIMIT
    for bad in ("", "lots", "-1GB", "4TB", "GB"):
        with pytest.raises(ValueError, match="like 4GB"):
            parse_size(bad)


def test_default_limit_is_four_gigabytes_or_a_quarter_of_the_memory():
    ram = memory_limit.physical_memory()
    assert memory_limit.default_limit() == (min(4 * GB, ram // 4) if ram else 4 * GB)
    # The largest template the app ships and the classic big CNNs fit: VGG-11 at 224×224 is 0.5 GB.
    for key in ("vgg11", "alexnet", "lenet5", "small_resnet", "inception", "nin"):
        assert analyze(load_template(key)).ok, key


def test_typo_is_an_error_on_the_layer_naming_its_size_and_the_setting(alexnet_typo):
    memory_limit.set_limit(4 * GB)
    analysis = analyze(alexnet_typo)
    [issue] = analysis.errors
    assert issue.node_id == "linear_1"
    # Oracle: PyTorch's own parameter count for Linear(9216 → 1,000,000), built on the meta device.
    params = sum(p.numel() for p in nn.Linear(9216, 1_000_000, device="meta").parameters())
    assert f"{params:,} parameters" in issue.message
    assert f"{params * 4 / GB:.1f} GB for its weights" in issue.message
    assert "over the memory limit of 4.0 GB" in issue.message
    assert "Reduce its outputs (now 1,000,000)" in issue.message
    assert "--max-memory" in issue.message and "Edit → Memory limit" in issue.message
    with pytest.raises(ResourceLimitError) as raised:
        check_memory(alexnet_typo, analysis)
    assert raised.value.node_id == "linear_1" and str(raised.value).startswith("linear_1 would need 34.3 GB")
    assert raised.value.needed > raised.value.limit == 4 * GB


def test_huge_layer_outputs_name_the_channels(alexnet_typo):
    """A convolution whose outputs, not weights, are the problem: 8,192 channels at 55×55, then more."""
    graph = with_params(load_template("alexnet"), "conv2d_1", out_channels=8192)
    memory_limit.set_limit(512 * MB)
    problem = memory_limit.find_problem(analyze(graph).nodes, graph.node_map())
    assert problem is not None and problem.limit == 512 * MB
    out = torch.nn.Conv2d(3, 8192, 11, 4, 2, device="meta")(torch.empty(1, 3, 224, 224, device="meta"))
    assert tuple(out.shape[1:]) == (8192, 55, 55)
    assert problem.node_id in ("conv2d_1", "conv2d_2")


def test_the_limit_can_be_raised_or_removed(alexnet_typo):
    memory_limit.set_limit("64GB", "command line")
    assert analyze(alexnet_typo).ok
    memory_limit.set_limit("none")
    assert analyze(alexnet_typo).ok and memory_limit.limit_text() == "no limit"
    memory_limit.set_limit("1GB")
    assert not analyze(alexnet_typo).ok


def test_every_path_that_builds_a_network_refuses(alexnet_typo, tmp_path):
    from engine.data import load_dataset
    from engine.insight.activations import module_with_weights
    from engine.interchange.exporters import export_onnx, export_torchscript, export_weights
    from engine.training import Failed, fit

    memory_limit.set_limit(4 * GB)
    for build in (lambda: compile_graph(alexnet_typo), lambda: module_with_weights(alexnet_typo),
                  lambda: export_torchscript(alexnet_typo, tmp_path / "n.pt"),
                  lambda: export_onnx(alexnet_typo, tmp_path / "n.onnx", compare=False),
                  lambda: export_weights(alexnet_typo, {}, tmp_path / "n.safetensors")):
        with pytest.raises(ResourceLimitError, match="linear_1 would need"):
            build()
    # Source export builds nothing, but it does check the analysis, which carries the same error.
    from engine.codegen import export_python
    with pytest.raises(GraphInvalidError, match="linear_1: would need"):
        export_python(alexnet_typo)
    assert list(tmp_path.iterdir()) == []
    # Training: LeNet with the same typo (1.6 GB of weights) against a 1 GB limit, on digits it accepts.
    memory_limit.set_limit(1 * GB)
    lenet = with_params(load_template("lenet5"), "linear_1", out_features=1_000_000)
    events = list(fit(lenet, load_dataset("generated_digits", size=64, seed=0)))
    assert isinstance(events[-1], Failed) and "linear_1: would need" in events[-1].reason


def test_command_line_refuses_and_max_memory_changes_the_limit(alexnet_typo, tmp_path, capsys):
    design = tmp_path / "typo.json"
    save_graph(alexnet_typo, design)
    assert run_command_line(["export", str(design), "--format", "torchscript", "-o", str(tmp_path / "n.pt")]) == 2
    err = capsys.readouterr().err
    assert "linear_1 would need 34.3 GB" in err and "--max-memory" in err
    assert run_command_line(["analyze", str(design), "--max-memory", "64GB"]) == 0
    assert memory_limit.limit_source() == "command line"
    lenet = tmp_path / "lenet.json"
    save_graph(with_params(load_template("lenet5"), "linear_1", out_features=1_000_000), lenet)
    code = run_command_line(["train", str(lenet), "--data", "generated_digits", "--size", "64", "--epochs", "1",
                             "--max-memory", "1GB", "--quiet", "--out", str(tmp_path / "run")])
    assert code == 2 and "linear_1: would need" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_command_line(["analyze", str(design), "--max-memory", "lots"])
    assert "like 4GB" in capsys.readouterr().err


REFUSE_WITHOUT_ALLOCATING = """
import json, resource
import torch
from dataclasses import replace
from engine.compiler import ResourceLimitError, compile_graph
from engine.templates import load_template

def peak():  # peak resident memory since the last reset_peak(), in bytes
    with open("/proc/self/status") as f:
        return int(next(l for l in f if l.startswith("VmHWM")).split()[1]) * 1024

def reset_peak():  # Linux: writing 5 to clear_refs sets the peak back to the current resident size
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

def with_out_features(graph, n):
    return replace(graph, nodes=tuple(replace(x, params={**x.params, "out_features": n}) if x.id == "linear_1"
                                      else x for x in graph.nodes))

# If the check ever failed, the 34 GB allocation must fail at once instead of freezing the machine.
with open("/proc/self/status") as f:
    vm = int(next(l for l in f if l.startswith("VmSize")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 3 * 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))
compile_graph(load_template("lenet5"))   # warm up: first-use allocations are not the typo's
reset_peak()
result = {"start": peak(), "errors": []}
for graph in (with_out_features(load_template("lenet5"), 1_000_000), with_out_features(load_template("alexnet"), 1_000_000)):
    try:
        compile_graph(graph)
    except ResourceLimitError as exc:
        result["errors"].append(str(exc))
result["after_refusals"] = peak()
reset_peak()
result["before_fits"] = peak()
fits = compile_graph(with_out_features(load_template("lenet5"), 100_000))   # 160 MB of weights: allowed
result["fits_bytes"] = sum(p.numel() * p.element_size() for p in fits.parameters())
result["after_fits"] = peak()
print(json.dumps(result))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="measures peak memory through Linux's /proc")
def test_refusal_allocates_nothing_while_a_network_that_fits_does():
    env = {**os.environ, "PYTHONPATH": str(ROOT), memory_limit.ENV: "256MB"}   # the environment variable path
    done = subprocess.run([sys.executable, "-c", REFUSE_WITHOUT_ALLOCATING], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert len(result["errors"]) == 2 and all("over the memory limit of 256 MB" in e for e in result["errors"])
    assert result["after_refusals"] - result["start"] < 20 * MB          # LeNet's typo alone would be 1.6 GB
    # The measurement does see real allocations: the network under the limit grows the peak by its weights.
    assert result["fits_bytes"] > 150 * MB
    assert result["after_fits"] - result["before_fits"] > 0.9 * result["fits_bytes"]
