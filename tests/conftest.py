import os

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="module")
def one_thread():
    """Small models run fastest on one thread; on a busy 2-core machine, two OpenMP threads spin-wait."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---- every import in the suite is checked against its original (engine.interchange.fx_import.verify) ----
_import_checks: list = []


def pytest_configure(config):
    from engine.interchange import fx_import

    verify = fx_import.verify

    def recording_verify(module, result, input_shape):
        try:
            verify(module, result, input_shape)
        except Exception:
            _import_checks.append((type(module).__name__, result.max_difference, False))
            raise
        _import_checks.append((type(module).__name__, result.max_difference, True))

    fx_import.verify = recording_verify


def pytest_terminal_summary(terminalreporter):
    """One line on how closely the imports of this run matched their originals (for the issue notes)."""
    passed = [(name, d) for name, d, ok in _import_checks if ok]
    caught = sum(1 for *_, ok in _import_checks if not ok)
    if passed:
        name, worst = max(passed, key=lambda c: c[1])
        terminalreporter.write_line(f"import checks: {len(passed)} imports matched their originals, largest output "
                                    f"difference {worst:.2e} ({name}); {caught} mismatch(es) caught")
