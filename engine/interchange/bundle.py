"""The project bundle (.cnnd): one zip a student hands in and a teacher reopens exactly.

    manifest.json            {"format": "cnn-designer-bundle", "version": 1, "created", "seed",
                              "dataset": {"key", "root", "size"}, "weights": "weights.safetensors" | null,
                              "runs": ["runs/<id>/", ...]}
    graph.json               the design (the usual design file format)
    weights.safetensors      the current weights (compiled-module keys), optional
    runs/<id>/...            one RunRecord folder per run (configs, metrics, results, weights.safetensors)

Opening a bundle never executes code and never unpickles: only .json, .csv and .safetensors members
are accepted, every member name is checked (no absolute paths, no '..', no backslashes or drive letters,
no links), and sizes are bounded before anything is read. A bundle from a newer version is refused.
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Optional

from engine.atomic_write import replacing
from engine.graph import GraphSpec
from engine.graph_io import MAX_FILE_BYTES as MAX_GRAPH_BYTES
from engine.graph_io import GraphFileError, graph_from_json, graph_to_json
from engine.safe_files import FileLimitError, load_json_file, loads_json, read_text_file
from engine.training.run_record import RUN_ID_PATTERN  # run ids name folders: never a path

FORMAT = "cnn-designer-bundle"
VERSION = 1
SUFFIX = ".cnnd"
ALLOWED_SUFFIXES = (".json", ".csv", ".safetensors")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".npy", ".npz", ".joblib")
MAX_MEMBERS = 5000
MAX_TEXT_MEMBER = 64 * 1024 * 1024          # one .json/.csv member
MAX_WEIGHTS_MEMBER = 4 * 1024 ** 3         # one .safetensors member
MAX_TOTAL = 8 * 1024 ** 3                  # everything, uncompressed
MAX_RATIO = 200                            # uncompressed / compressed, for members above 1 MB (zip bombs)
FREE_BYTES = 16 * 1024 ** 2                # unpacked bytes allowed whatever the ratio; beyond: MAX_RATIO × size
MAX_MANIFEST = 1024 ** 2                   # manifest.json
MAX_RUNS = 1000                            # runs listed in a manifest, each at most once
CHUNK = 1024 ** 2


class BundleError(ValueError):
    """A bundle that cannot be opened or saved; the message says why."""


@dataclass
class Bundle:
    graph: GraphSpec
    runs: list = field(default_factory=list)      # engine.training.run_record.RunRecord
    weights: Optional[dict] = None                 # compiled-module keys -> torch.Tensor
    dataset: dict = field(default_factory=dict)    # {"key": "mnist", "root": "...", "size": 2000}
    seed: int = 0
    created: str = ""
    path: Optional[Path] = None


# ---- saving -------------------------------------------------------------------------------------

def save_bundle(bundle: Bundle, path: str | os.PathLike[str]) -> Path:
    """Write the bundle atomically (a temporary file in the same folder, then renamed), keeping the replaced
    file as NAME.cnnd.bak."""
    from engine.interchange.weights import save_weights

    path = Path(path)
    if path.suffix != SUFFIX:
        raise BundleError(f"a project bundle's name must end in {SUFFIX}; got {path.name}")
    runs = list(bundle.runs)
    run_ids = [_run_folder_name(r, i) for i, r in enumerate(runs)]
    dataset = dict(bundle.dataset) or (_dataset_of(runs[-1]) if runs else {})
    manifest = {"format": FORMAT, "version": VERSION,
                "created": bundle.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "seed": int(bundle.seed), "dataset": dataset,
                "weights": "weights.safetensors" if bundle.weights is not None else None,
                "runs": [f"runs/{rid}/" for rid in run_ids]}
    # Atomic, and the replaced project is kept as NAME.cnnd.bak (engine.atomic_write).
    with replacing(path, backup=True) as tmp:
        with tempfile.TemporaryDirectory() as work, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
            zf.writestr("graph.json", graph_to_json(bundle.graph))
            if bundle.weights is not None:
                w = Path(work) / "weights.safetensors"
                save_weights(bundle.weights, w)
                zf.write(w, "weights.safetensors", compress_type=zipfile.ZIP_STORED)
            for rid, run in zip(run_ids, runs):
                folder = Path(work) / "runs" / rid
                run.save(folder)
                for file in sorted(folder.rglob("*")):
                    if file.is_file() and file.suffix in ALLOWED_SUFFIXES:
                        kind = zipfile.ZIP_STORED if file.suffix == ".safetensors" else zipfile.ZIP_DEFLATED
                        zf.write(file, f"runs/{rid}/{file.relative_to(folder).as_posix()}", compress_type=kind)
    return path


def _run_folder_name(run, index) -> str:
    rid = "".join(ch for ch in str(run.id) if ch.isalnum() or ch in "-_")[:40]
    return f"{index + 1:03d}_{rid or 'run'}"


def _dataset_of(run) -> dict:
    d = {"key": run.dataset_key}
    if getattr(run.config, "data_size", None):
        d["size"] = run.config.data_size
    return d


# ---- loading ------------------------------------------------------------------------------------

def open_project(path: str | os.PathLike[str]) -> Bundle:
    """Open a .cnnd bundle, a plain .json design or a built-in template by name (as a bundle with no runs)."""
    from engine.templates import load_design_or_template

    path = Path(path)
    if path.suffix.lower() == SUFFIX:
        return load_bundle(path)
    try:
        return Bundle(graph=load_design_or_template(path), path=path)
    except GraphFileError as exc:
        raise BundleError(str(exc)) from None


def load_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Validate everything, then read. Raises BundleError with the reason; never executes code."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BundleError(f"there is no file {path}") from None
    # NotImplementedError: zipfile's answer to a zip version or compression method it does not know;
    # UnicodeDecodeError: a member name flagged as UTF-8 that is not (zipfile decodes names while opening)
    except (zipfile.BadZipFile, OSError, NotImplementedError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path.name} is not a CNN Designer project bundle (not a readable zip: {_brief(exc)})") from None
    with zf:
        members = _checked_members(zf, path.name)
        manifest = _manifest(zf, members, path.name)
        budget = _Budget(path.name, _archive_size(path, members))
        with tempfile.TemporaryDirectory(prefix="cnnd-") as work:
            # Write only checked names, counting the bytes actually produced (never extractall).
            for name, info in members.items():
                target = Path(work).joinpath(*PurePosixPath(name).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                _extract(zf, info, target, budget)
            return _assemble(Path(work), manifest, members, path)


def _archive_size(path: Path, members: dict) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return sum(info.compress_size for info in members.values())


class _Budget:
    """What a bundle may unpack to, counted in bytes actually produced (a zip's headers can lie): at most
    MAX_TOTAL in all, and at most FREE_BYTES plus MAX_RATIO times the bundle's own size, so thousands of
    small, highly compressed members cannot add up to a bomb either."""

    def __init__(self, source: str, archive_size: int):
        self.source, self.spent = source, 0
        self.allowed = min(MAX_TOTAL, FREE_BYTES + MAX_RATIO * max(archive_size, 0))

    def spend(self, n: int, name: str) -> None:
        self.spent += n
        if self.spent > self.allowed:
            raise BundleError(f"{self.source} unpacks to more than {self.allowed:,} bytes (at {name!r}), far more "
                              f"than its size explains; only zip bombs are compressed like that. Refused.")


def _extract(zf, info, target: Path, budget: _Budget) -> None:
    """Copy one member to `target` in chunks, refusing it as soon as it produces more bytes than its header
    declared (which the per-member limits checked) or than the whole bundle's budget allows."""
    limit = info.file_size
    written = 0
    try:
        with zf.open(info) as src, open(target, "wb") as dst:
            while True:
                chunk = src.read(min(CHUNK, limit + 1 - written))
                if not chunk:
                    break          # at the end zipfile has checked the CRC
                written += len(chunk)
                if written > limit:
                    raise BundleError(f"{budget.source}: member {info.filename!r} is larger than its header says. "
                                      f"Refused.")
                budget.spend(len(chunk), info.filename)
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, ValueError, NotImplementedError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{budget.source}: member {info.filename!r} is damaged ({_brief(exc)}); the file is corrupt or "
                          f"incomplete. Refused.") from None


def _checked_members(zf: zipfile.ZipFile, source: str) -> dict:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise BundleError(f"{source} holds {len(infos)} files; a bundle holds at most {MAX_MEMBERS}. Refused.")
    members, total = {}, 0
    for info in infos:
        name = info.filename
        _check_name(name, source)
        if name.endswith("/"):
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise BundleError(f"{source}: member {name!r} is a symbolic link; bundles never contain links. Refused.")
        if info.flag_bits & 0x1:
            raise BundleError(f"{source}: member {name!r} is encrypted; bundles are never encrypted. Refused.")
        suffix = PurePosixPath(name).suffix.lower()
        if suffix in PICKLE_SUFFIXES:
            raise BundleError(f"{source}: member {name!r} is a pickle-based file; bundles only hold JSON, CSV and "
                              f"safetensors, so it was refused without being read (pickles can run code).")
        if suffix not in ALLOWED_SUFFIXES:
            raise BundleError(f"{source}: unexpected member {name!r}; bundles only hold .json, .csv and "
                              f".safetensors files. Refused.")
        limit = MAX_WEIGHTS_MEMBER if suffix == ".safetensors" else MAX_TEXT_MEMBER
        if info.file_size > limit:
            raise BundleError(f"{source}: member {name!r} would unpack to {info.file_size:,} bytes, more than the "
                              f"{limit:,} allowed. Refused before extraction.")
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise BundleError(f"{source}: member {name!r} is compressed {info.file_size // max(1, info.compress_size)}"
                              f"-fold, which only zip bombs do. Refused before extraction.")
        total += info.file_size
        if total > MAX_TOTAL:
            raise BundleError(f"{source} would unpack to more than {MAX_TOTAL:,} bytes. Refused before extraction.")
        if name in members:
            raise BundleError(f"{source}: member {name!r} appears twice. Refused.")
        members[name] = info
    return members


def _brief(exc) -> str:
    """An exception's text for a message: zipfile quotes whole damaged headers."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 150 else text[:147] + "..."


def _shown(value) -> str:
    """A value from the bundle, for a message: repr() cut short, whatever the bundle put there."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return "a huge number"
    text = repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def _check_name(name: str, source: str) -> None:
    bad = None
    if not name or len(name) > 300:
        bad = "an empty or overlong name"
    elif "\\" in name or "\x00" in name:
        bad = "a backslash or NUL character in its name"
    elif name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        bad = "an absolute path"
    elif any(part in ("..", ".", "") for part in name.rstrip("/").split("/")):
        bad = "a '..' or empty path component (path traversal)"
    elif any(not ch.isprintable() for ch in name):
        bad = "control characters in its name"
    if bad:
        raise BundleError(f"{source}: member {_shown(name)} has {bad}; refused without extracting anything.")


def _read_member(zf, info, source) -> bytes:
    """Read at most the declared size (+1 to notice a lying header); zipfile verifies the CRC."""
    try:
        with zf.open(info) as f:
            data = f.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError, NotImplementedError) as exc:
        raise BundleError(f"{source}: member {info.filename!r} is damaged ({_brief(exc)}); the file is corrupt or "
                          f"incomplete. Refused.") from None
    if len(data) > info.file_size:
        raise BundleError(f"{source}: member {info.filename!r} is larger than its header says. Refused.")
    return data


def _json(zf, members, name, source):
    if name not in members:
        raise BundleError(f"{source} has no {name}; it is not a complete CNN Designer project bundle")
    try:
        return loads_json(_read_member(zf, members[name], source).decode("utf-8"), f"{source}: {name}")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{source}: {name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except FileLimitError as exc:
        raise BundleError(str(exc)) from None


def _manifest(zf, members, source) -> dict:
    if "manifest.json" in members and members["manifest.json"].file_size > MAX_MANIFEST:
        raise BundleError(f"{source}: manifest.json is larger than {MAX_MANIFEST:,} bytes; it is not a CNN "
                          f"Designer bundle. Refused.")
    m = _json(zf, members, "manifest.json", source)
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise BundleError(f"{source} is not a CNN Designer project bundle (manifest format is "
                          f"{_shown(m.get('format') if isinstance(m, dict) else None)})")
    version = m.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(f"{source}: the manifest's version {_shown(version)} is not valid")
    if version > VERSION:
        raise BundleError(f"{source} was saved by a newer CNN Designer (bundle version {_shown(version)}); this version "
                          f"opens bundles up to version {VERSION}. Update CNN Designer to open it.")
    runs = m.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
        raise BundleError(f"{source}: the manifest's \"runs\" must be a list of folder names")
    if len(runs) > MAX_RUNS:
        raise BundleError(f"{source}: the manifest lists {len(runs):,} runs; a bundle holds at most {MAX_RUNS}. "
                          f"Refused.")
    if len(set(runs)) != len(runs):
        raise BundleError(f"{source}: the manifest lists a run folder more than once; each run is listed once. "
                          f"Refused.")
    for r in runs:
        _check_name(r, source)
        if not r.startswith("runs/") or r.count("/") != 2 or not r.endswith("/"):
            raise BundleError(f"{source}: run folder {_shown(r)} is not of the form runs/NAME/")
    if not isinstance(m.get("dataset", {}), dict):
        raise BundleError(f"{source}: the manifest's \"dataset\" must be an object")
    seed = m.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise BundleError(f"{source}: the manifest's seed must be a whole number from 0 to 2^63 - 1; "
                          f"got {str(seed)[:40]}")
    if m.get("weights") not in (None, "weights.safetensors"):
        raise BundleError(f"{source}: the manifest's weights entry must be \"weights.safetensors\" or null")
    return m


def _assemble(work: Path, manifest: dict, members: dict, path: Path) -> Bundle:
    source = path.name
    try:
        graph = graph_from_json(read_text_file(work / "graph.json", MAX_GRAPH_BYTES, "design"),
                                f"{source}: graph.json") if "graph.json" in members else None
    except GraphFileError as exc:
        raise BundleError(str(exc)) from None
    except FileLimitError as exc:
        raise BundleError(f"{source}: {str(exc).replace(str(work / 'graph.json'), 'graph.json')}") from None
    if graph is None:
        raise BundleError(f"{source} has no graph.json; it is not a complete CNN Designer project bundle")
    weights = None
    if manifest.get("weights"):
        if "weights.safetensors" not in members:
            raise BundleError(f"{source}: the manifest lists weights.safetensors but the bundle does not contain it")
        weights = _safetensors(work / "weights.safetensors", f"{source}: weights.safetensors")
    runs = [_load_run(work, folder, source) for folder in manifest.get("runs", [])]
    # Only the fields the app uses, with their types: a key and a folder (text) and a positive size.
    dataset = {k: v for k, v in manifest.get("dataset", {}).items()
               if (k in ("key", "root") and isinstance(v, str)) or
               (k == "size" and isinstance(v, int) and not isinstance(v, bool) and v > 0)}
    return Bundle(graph=graph, runs=runs, weights=weights, dataset=dataset, seed=manifest.get("seed", 0),
                  created=str(manifest.get("created", ""))[:64], path=path)


def _safetensors(file: Path, what: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise BundleError(f"{what} is not a valid safetensors file ({_brief(exc)}); refused") from None


def _load_run(work: Path, folder: str, source: str):
    from engine.training.run_record import RunRecord

    run_dir = work.joinpath(*PurePosixPath(folder).parts)
    if not (run_dir / "run.json").is_file():
        raise BundleError(f"{source}: run folder {folder} is listed but missing")
    _check_run_files(run_dir, folder, source)
    weights = run_dir / "weights.safetensors"
    if weights.is_file():
        _safetensors(weights, f"{source}: {folder}weights.safetensors")  # clear message before RunRecord reads it
    try:
        return RunRecord.load(run_dir)
    except Exception as exc:  # anything in an untrusted run folder that does not read back means it is damaged
        text = str(exc).replace(str(work) + os.sep, "").replace(str(work), "")
        text = text if len(text) <= 700 else text[:697] + "..."
        raise BundleError(f"{source}: run {folder} cannot be read: {text or type(exc).__name__}") from None


def _check_run_files(run_dir: Path, folder: str, source: str) -> None:
    """The JSON a run record reads must have the shapes it writes, so nothing downstream trips over a
    list where a table belongs, and the run's id must be a plain name (the app makes a folder of it)."""
    def read(name):
        file = run_dir / name
        if not file.is_file():
            return None
        try:
            return load_json_file(file, MAX_TEXT_MEMBER, "run file")
        except FileLimitError as exc:
            text = str(exc).replace(str(run_dir), folder.rstrip("/"))
            raise BundleError(f"{source}: {text}; refused") from None

    meta = read("run.json")
    run_id = meta.get("id") if isinstance(meta, dict) else None
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        shown = repr(run_id) if len(repr(run_id)) <= 70 else repr(run_id)[:67] + "..."
        raise BundleError(f"{source}: {folder}run.json has the run id {shown}; a run id is 1-64 letters, digits, "
                          f"'-' or '_' (never a path). Refused.")
    metrics = read("metrics.json")
    if metrics is not None:
        tables = [metrics.get(t, {}) for t in ("steps", "epochs")] if isinstance(metrics, dict) else [None]
        for table in tables:
            if not isinstance(table, dict) or not all(_is_column(v) for v in table.values()) \
                    or len({len(v) for v in table.values()}) > 1:
                raise BundleError(f"{source}: {folder}metrics.json must hold \"steps\" and \"epochs\" tables of "
                                  f"equally long number columns. Refused.")
    results = read("results.json")
    if results is not None and not isinstance(results, dict):
        raise BundleError(f"{source}: {folder}results.json must be a JSON object of test results. Refused.")


def _is_column(values) -> bool:
    return isinstance(values, list) and all(
        v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)
