"""Directories of arrays at rest: written whole or not at all, and verified before they are trusted.

A saved dataset, a preset's cache and a sharded market are directories of ``.npy`` arrays and a ``meta.json``.
:func:`write_meta` records in ``meta.json`` a checksum of every array (dtype, shape, values) and one of the
metadata itself; :func:`read_meta` checks the metadata's and that every array is there, and :func:`load_array`
checks each array as it loads it, raising :class:`~order_exec_gym.errors.DataError` naming the file that is
missing, truncated, unreadable or changed since it was written (an edited ``lengths.npy``, a rotated
``dates.npy``, a hand-edited ``bar_minutes``, another shard's copy). :func:`replace_directory` moves a finished
temporary directory into place so that a process killed at any moment leaves the old or the new directory whole:
the old one is renamed aside first and removed last, and :func:`recover_directory` (run before every read and write)
puts it back if the kill came between the two renames, and removes what dead writers left behind. Writers are told
apart by process id, so a directory is meant to be written from one machine at a time (a cache on a disk that
several machines share can lose one machine's write to another's clean-up); two writers at once on one machine
leave the last whole directory in place.
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


def array_digest(array: np.ndarray) -> str:
    """The BLAKE2b-128 digest of an array's dtype, shape and values, as hex."""
    digest = hashlib.blake2b(f"{array.dtype.str}|{array.shape}|".encode(), digest_size=16)
    digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)
    return digest.hexdigest()


def meta_digest(meta: dict[str, Any]) -> str:
    """The digest of a ``meta.json`` mapping without its own ``checksum`` entry."""
    body = json.dumps({key: value for key, value in meta.items() if key != "checksum"}, sort_keys=True)
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


def write_meta(directory: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Write ``meta.json`` into ``directory`` with the digest of every ``.npy`` array in it (``files``) and of the
    metadata (``checksum``); return what was written."""
    files = {path.stem: array_digest(np.load(path, mmap_mode="r")) for path in sorted(directory.glob("*.npy"))}
    return _sign({**meta, "files": files}, directory)


def update_meta(directory: Path, **changes: Any) -> dict[str, Any]:
    """Change entries of a verified ``meta.json`` (not ``files``: the arrays are not hashed again) and sign it anew;
    return what was written."""
    return _sign(read_meta(directory) | changes, directory)


def _sign(meta: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Write ``meta`` with its own checksum as ``directory``'s ``meta.json``."""
    meta = {**meta, "checksum": meta_digest(meta)}
    (directory / META).write_text(json.dumps(meta, indent=1))
    return meta


def read_meta(directory: Path, verify: bool = True) -> dict[str, Any]:
    """The ``meta.json`` of ``directory``, its own checksum verified and every array it lists present (each array's
    values are verified when :func:`load_array` loads it). ``verify=False`` reads a directory without checksums
    (written by hand or by an older version) as it is: save what it loads again to make it verifiable."""
    source = str(directory)
    recover_directory(directory)
    path = directory / META
    if not path.is_file():
        detail = "no meta.json: not a directory written by this library, or an interrupted write"
        raise DataError("incomplete data directory", source=source, detail=detail)
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as error:  # not UTF-8, not JSON, too deep, a number too long
        raise DataError("unreadable meta.json", source=str(path), detail=str(error)) from None
    if not isinstance(meta, dict):
        raise DataError("unreadable meta.json", source=str(path), detail="not a JSON object")
    if not verify:
        return {**meta, "files": {}}
    if "checksum" not in meta or "files" not in meta:
        detail = ("no checksums: written by an older version of this library, or by hand; load it with verify=False "
                  "and save it again")  # fmt: skip
        raise DataError("unverifiable data directory", source=source, detail=detail)
    if meta_digest(meta) != meta["checksum"]:
        raise DataError("changed meta.json", source=str(path), detail="its contents differ from what was written")
    for name in meta["files"]:
        if not (directory / f"{name}.npy").is_file():
            raise DataError("missing array file", source=str(directory / f"{name}.npy"), detail="listed in meta.json")
    return meta


def load_array(directory: Path, name: str, meta: dict[str, Any], mmap: bool = False) -> np.ndarray:
    """``name.npy`` of a directory whose ``meta`` :func:`read_meta` returned, memory-mapped when ``mmap``, its
    values checked against the digest written with it (the very values returned: a file replaced between two loads
    cannot slip in unverified)."""
    path = directory / f"{name}.npy"
    try:
        array = np.load(path, mmap_mode="r" if mmap else None)
    except Exception as error:  # numpy parses a header with ast and tokenize: a damaged one raises their errors too
        known = isinstance(error, (OSError, ValueError, EOFError))
        detail = str(error) if known else f"{type(error).__name__}: {error}"
        raise DataError("unreadable array file", source=str(path), detail=detail) from None
    expected = meta["files"].get(name)
    if expected is None and meta["files"]:
        raise DataError("unlisted array file", source=str(path), detail=f"{directory / META} lists no checksum for it")
    if expected is not None and array_digest(array) != expected:
        # the array, or meta.json (another version's, say), is not what was written with the other
        detail = f"differs from what was written, as its checksum in {directory / META} says"
        raise DataError("changed array file", source=str(path), detail=detail)
    return array


def replace_directory(tmp: Path, directory: Path) -> None:
    """Move the finished directory ``tmp`` to ``directory``, replacing what is there, so that a kill at any point
    leaves a whole one: the old directory is renamed aside (``<name>.old<pid>``) before and removed after."""
    old = directory.with_name(f"{directory.name}.old{os.getpid()}")
    try:
        directory.rename(old)
    except FileNotFoundError:  # nothing to replace, or another writer moved it aside first
        pass
    try:
        tmp.rename(directory)
    except OSError:
        if not directory.exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # another writer's directory came in first: it is as whole as ours
    shutil.rmtree(old, ignore_errors=True)


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
        try:
            old.pop().rename(directory)
        except OSError:  # another reader put it back first
            pass
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
