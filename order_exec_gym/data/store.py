"""Directories of arrays at rest: written whole or not at all, and verified before they are trusted.

A saved dataset, a preset's cache and a sharded market are directories of ``.npy`` arrays and a ``meta.json``.
:func:`write_meta` records in ``meta.json`` a checksum of every array file and one of the metadata itself;
:func:`read_meta` recomputes them and raises :class:`~order_exec_gym.errors.DataError` naming the file that is
missing, truncated, unreadable or changed since it was written (an edited ``lengths.npy``, a rotated
``dates.npy``, a hand-edited ``bar_minutes``, another shard's copy). :func:`replace_directory` moves a finished
temporary directory into place so that a process killed at any moment leaves the old or the new directory whole:
the old one is renamed aside first and removed last, and :func:`recover_directory` (run before every read and write)
puts it back if the kill came between the two renames, and removes what dead writers left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from order_exec_gym.errors import DataError

META = "meta.json"
#: Bytes read at a time while hashing a file.
CHUNK = 1 << 22


def file_digest(path: Path) -> str:
    """The BLAKE2b-128 digest of a file's bytes, as hex."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def meta_digest(meta: dict[str, Any]) -> str:
    """The digest of a ``meta.json`` mapping without its own ``checksum`` entry."""
    body = json.dumps({key: value for key, value in meta.items() if key != "checksum"}, sort_keys=True)
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


def write_meta(directory: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Write ``meta.json`` into ``directory`` with the digest of every ``.npy`` file in it (``files``) and of the
    metadata (``checksum``); return what was written."""
    files = {path.name: file_digest(path) for path in sorted(directory.glob("*.npy"))}
    meta = {**meta, "files": files}
    meta["checksum"] = meta_digest(meta)
    (directory / META).write_text(json.dumps(meta, indent=1))
    return meta


def read_meta(directory: Path) -> dict[str, Any]:
    """The verified ``meta.json`` of ``directory``: every array file it lists is there and unchanged."""
    source = str(directory)
    recover_directory(directory)
    path = directory / META
    if not path.is_file():
        detail = "no meta.json: not a directory written by this library, or an interrupted write"
        raise DataError("incomplete data directory", source=source, detail=detail)
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError("unreadable meta.json", source=str(path), detail=str(error)) from None
    if not isinstance(meta, dict) or "checksum" not in meta or "files" not in meta:
        detail = "no checksums: written by an older version of this library, or by hand; write it again"
        raise DataError("unverifiable data directory", source=source, detail=detail)
    if meta_digest(meta) != meta["checksum"]:
        raise DataError("changed meta.json", source=str(path), detail="its contents differ from what was written")
    for name, expected in meta["files"].items():
        if not (directory / name).is_file():
            raise DataError("missing array file", source=str(directory / name), detail="listed in meta.json")
        if file_digest(directory / name) != expected:
            raise DataError("changed array file", source=str(directory / name), detail="differs from what was written")
    return meta


def load_array(directory: Path, name: str, mmap: bool = False) -> np.ndarray:
    """``name.npy`` of a verified directory (see :func:`read_meta`), memory-mapped when ``mmap``."""
    path = directory / f"{name}.npy"
    try:
        return np.load(path, mmap_mode="r" if mmap else None)
    except (OSError, ValueError, EOFError) as error:
        raise DataError("unreadable array file", source=str(path), detail=str(error)) from None


def replace_directory(tmp: Path, directory: Path) -> None:
    """Move the finished directory ``tmp`` to ``directory``, replacing what is there, so that a kill at any point
    leaves a whole one: the old directory is renamed aside (``<name>.old<pid>``) before and removed after."""
    if directory.exists():
        old = directory.with_name(f"{directory.name}.old{os.getpid()}")
        directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(directory)


def temporary_directory(directory: Path) -> Path:
    """A fresh ``<name>.tmp<pid>`` beside ``directory`` to write into (after :func:`recover_directory`)."""
    recover_directory(directory)
    tmp = directory.with_name(f"{directory.name}.tmp{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def recover_directory(directory: Path) -> None:
    """Undo what writers killed while writing ``directory`` left: put back the old directory if the kill came between
    :func:`replace_directory`'s two renames, and remove the temporary and old directories of dead processes."""
    if not directory.parent.is_dir():
        return
    leftovers = [path for path in directory.parent.glob(f"{directory.name}.*") if _writer(path, directory) is not None]
    dead = [path for path in leftovers if not _alive(_writer(path, directory))]
    old = sorted((path for path in dead if ".old" in path.name[len(directory.name) :]), key=os.path.getmtime)
    if not directory.exists() and old:
        old.pop().rename(directory)
    for path in dead:
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)


def _writer(path: Path, directory: Path) -> int | None:
    """The pid in ``<name>.tmp<pid>`` or ``<name>.old<pid>``, else None."""
    suffix = path.name[len(directory.name) :]
    for mark in (".tmp", ".old"):
        if suffix.startswith(mark) and suffix[len(mark) :].isdigit():
            return int(suffix[len(mark) :])
    return None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
