"""The run directory: which files a training run owns, and when it may start, resume or be replaced.

A run directory (``--out DIR``, ``Trainer(out_dir=...)``) holds the files in
:data:`RUN_FILES`: ``run.json`` (the marker, with the run's settings),
``checkpoint.pt``, ``best.pt``, ``metrics.jsonl``, ``curves.png`` and
``summary.json``. The rules that keep a person's results safe:

* a **fresh** run refuses a directory that already holds a run: it says to
  continue it (resume) or replace it (overwrite);
* **overwrite** deletes only the files in :data:`RUN_FILES` (and the temporary
  files of interrupted atomic writes), and only in a directory that is
  recognisably a scalegnn run: one with a ``run.json`` marker, or (runs written
  before the marker existed) a ``metrics.jsonl`` in the Trainer's format.
  Other files in the directory are never touched;
* **resume** needs ``checkpoint.pt``; without it nothing is written or deleted.

Every check here only reads, so every process of a distributed run may make it;
only the main process clears or writes files.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

__all__ = [
    "RUN_FILES",
    "RUN_CONFIG_NAME",
    "RunDirError",
    "check_out_dir",
    "clear_run",
    "existing_run_files",
    "is_run_dir",
    "read_run_config",
    "write_run_config",
]

PathLike = Union[str, os.PathLike]

RUN_CONFIG_NAME = "run.json"
RUN_FILES = (RUN_CONFIG_NAME, "checkpoint.pt", "best.pt", "metrics.jsonl", "curves.png", "summary.json")
RUN_MARKER = "scalegnn_run"
RUN_FORMAT = 1
# the temporary files of interrupted atomic writes (checkpoint.atomic_save, MetricsLog, write_run_config)
_TEMP_PATTERNS = (".checkpoint.pt.*.tmp", ".best.pt.*.tmp", "metrics.jsonl.tmp", "run.json.tmp", "summary.json.tmp")


class RunDirError(ValueError):
    """A run directory cannot be used as asked (it holds a run, is not a run, has no checkpoint)."""


def existing_run_files(out_dir: PathLike) -> List[str]:
    """Names of :data:`RUN_FILES` present in ``out_dir`` (empty if it does not exist)."""
    out = Path(out_dir)
    return [name for name in RUN_FILES if (out / name).exists()]


def read_run_config(out_dir: PathLike) -> Optional[Dict[str, Any]]:
    """The settings saved in ``out_dir/run.json`` (``None`` when there is no such file).

    Raises:
        RunDirError: ``run.json`` exists but is not a scalegnn run marker.
    """
    path = Path(out_dir) / RUN_CONFIG_NAME
    if not path.is_file():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path} is not readable JSON ({type(exc).__name__}): not a scalegnn run file") from None
    if not isinstance(content, dict) or RUN_MARKER not in content:
        raise RunDirError(f"{path} was not written by scalegnn (no {RUN_MARKER!r} key)")
    if content[RUN_MARKER] != RUN_FORMAT:
        raise RunDirError(f"{path} is from another version of scalegnn (run format {content[RUN_MARKER]!r}, "
                          f"this version reads {RUN_FORMAT})")
    config = content.get("config")
    return dict(config) if isinstance(config, dict) else {}


def write_run_config(out_dir: PathLike, config: Optional[Dict[str, Any]] = None) -> Path:
    """Write ``out_dir/run.json`` (the run marker and ``config``) atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RUN_CONFIG_NAME
    tmp = out / f"{RUN_CONFIG_NAME}.tmp"
    content = {RUN_MARKER: RUN_FORMAT, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": config or {}}
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(content, indent=2, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def _legacy_metrics_log(path: Path) -> bool:
    """Whether ``path`` starts like a ``metrics.jsonl`` the Trainer writes (runs older than ``run.json``)."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline()
        record = json.loads(first)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(record, dict) and (("epoch" in record and "loss" in record) or record.get("final") is True)


def is_run_dir(out_dir: PathLike) -> bool:
    """Whether ``out_dir`` is recognisably a scalegnn run directory (see the module docstring)."""
    out = Path(out_dir)
    if (out / RUN_CONFIG_NAME).is_file():
        try:
            read_run_config(out)
        except RunDirError:
            return False
        return True
    return (out / "metrics.jsonl").is_file() and _legacy_metrics_log(out / "metrics.jsonl")


def check_out_dir(out_dir: PathLike, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse to start, resume or replace a run where that would lose or mix up results (reads only).

    Raises:
        RunDirError: with one line naming the directory, the problem and the flag that fixes it.
    """
    out = Path(out_dir)
    if resume and overwrite:
        raise RunDirError("resume and overwrite contradict each other: --resume continues the run in "
                          f"{out}, --overwrite replaces it; pass one of them")
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out} is a file, not a directory: choose another --out")
    present = existing_run_files(out)
    if resume:
        if not out.is_dir():
            raise RunDirError(f"nothing to resume: {out} does not exist (start the run without --resume)")
        if "checkpoint.pt" not in present:
            what = (f"it holds {', '.join(present)} but no checkpoint.pt (the run stopped before its first "
                    f"checkpoint): start it again with --overwrite" if present else
                    "it holds no run: start one without --resume")
            raise RunDirError(f"nothing to resume in {out}: {what}")
        return
    if not present:
        return
    if not overwrite:
        raise RunDirError(f"{out} already holds a training run ({', '.join(present)}): continue it with --resume, "
                          f"replace it with --overwrite, or choose another --out")
    if not is_run_dir(out):
        raise RunDirError(f"{out} holds {', '.join(present)} but is not recognisably a scalegnn run directory "
                          f"(no valid {RUN_CONFIG_NAME}): --overwrite only replaces scalegnn runs; move those files "
                          f"away or choose another --out")


def clear_run(out_dir: PathLike) -> List[str]:
    """Delete the run files of a recognised scalegnn run directory; returns the names deleted.

    Only :data:`RUN_FILES` and temporary files of interrupted writes are
    deleted; every other file and folder stays.

    Raises:
        RunDirError: ``out_dir`` holds run files but is not recognisably a scalegnn run.
    """
    out = Path(out_dir)
    if not out.is_dir():
        return []
    present = existing_run_files(out)
    if present and not is_run_dir(out):
        raise RunDirError(f"refusing to delete {', '.join(present)} in {out}: not recognisably a scalegnn run "
                          f"directory")
    removed = []
    for name in present:
        (out / name).unlink()
        removed.append(name)
    for pattern in _TEMP_PATTERNS:
        for tmp in out.glob(pattern):
            if tmp.is_file():
                tmp.unlink()
                removed.append(tmp.name)
    return removed
