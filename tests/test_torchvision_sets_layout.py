"""The data sets are listed without importing torchvision (it pulls in torch._dynamo and SymPy, seconds
before the window could paint); the layout written out for that must agree with torchvision's classes."""
import subprocess
import sys

from engine.data.torchvision_sets import LAYOUT, torchvision_sets


def test_the_written_out_layout_matches_torchvisions_dataset_classes():
    sets = torchvision_sets()
    assert set(LAYOUT) == set(sets)
    for key, (folder, files, source) in LAYOUT.items():
        assert (folder, files, source) == (sets[key].folder, sets[key].files, sets[key].source), key


def test_listing_the_data_sets_does_not_import_torchvision():
    script = ("import sys\n"
              "from engine.data import list_datasets\n"
              "assert len(list_datasets()) >= 7\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torchvision', 'sympy')"
              " or m == 'torch._dynamo'))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"
