"""Bundled files are found through the installed package, and the build ships every one the app reads."""
import fnmatch
from pathlib import Path

import pytest

from engine import resource_files
from engine.resource_files import ResourceError, required_resource, resource_root

ROOT = Path(__file__).resolve().parent.parent
NOT_SHIPPED = ("screenshots/*", "*.py", "*/__pycache__/*", "__pycache__/*")  # README pictures, generators


def runtime_files(folder: Path) -> list:
    """Every file under resources/ that the app may read: all of them but the README's screenshots and code."""
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return sorted(n for n in names if not any(fnmatch.fnmatch(n, pattern) for pattern in NOT_SHIPPED))


def test_the_resources_are_the_installed_package_not_a_guess_relative_to_the_code():
    import cnn_designer_resources

    assert resource_root() == Path(cnn_designer_resources.__file__).parent
    assert (resource_root() / "templates" / "lenet5.json").is_file()


def test_every_runtime_file_matches_the_package_data_patterns():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"][resource_files.PACKAGE]
    files = runtime_files(ROOT / "resources")
    assert "templates/lenet5.json" in files and "icons/cnn-designer.svg" in files
    assert "screenshots/designer.png" not in files
    # Path.glob reads the patterns as setuptools does: '*' never crosses a folder.
    shipped = {p.relative_to(ROOT / "resources").as_posix() for pattern in patterns
               for p in (ROOT / "resources").glob(pattern)}
    left_out = [name for name in files if name not in shipped]
    assert not left_out, (f"these files would be missing from the wheel; add a pattern for them to "
                          f"[tool.setuptools.package-data] in pyproject.toml: {left_out}")


def test_named_helpers_point_at_existing_files():
    assert resource_files.style_sheet("light").is_file() and resource_files.style_sheet("dark").is_file()
    assert resource_files.app_icon_path().is_file()
    assert sorted(p.name for p in resource_files.template_dir().glob("*.json"))
    assert (resource_files.lessons_dir() / "designs").is_dir()


def test_a_missing_bundled_file_is_named_in_the_error():
    with pytest.raises(ResourceError, match="styles/nope.qss is missing"):
        required_resource("styles", "nope.qss")
    assert required_resource("icons", "cnn-designer.svg").is_file()
