"""What ``data=`` names, resolved to a market: the embedded synthetic market, presets through their on-disk cache,
saved datasets and sharded markets.

- :func:`open_market`: any market (a :class:`MarketDataset` in memory, or a :class:`ShardedMarket` on disk), as
  evaluation takes it;
- :func:`load_dataset`: a market in memory, as an env trains on it (a sharded directory is refused with how to use it);
- :func:`synthetic_dataset`: the synthetic market, built once per process per set of options and shared;
- :func:`preset_dataset`: a preset, built once and cached under :func:`default_cache_dir`, keyed by its files'
  contents; a cache that fails its checks is rebuilt from the source.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from order_exec_gym.data.build import episodes_from_bars
from order_exec_gym.data.dataset import CACHE_VERSION, MarketDataset
from order_exec_gym.data.presets import PRESETS, load_preset, preset_path
from order_exec_gym.data.shards import SHARDS, STREAMED_PRESETS, ShardedMarket, preset_shards
from order_exec_gym.data.store import file_digest, recover_directory, temporary_directory
from order_exec_gym.data.synthetic import synthetic_bars
from order_exec_gym.errors import DataError

SYNTHETIC = "synthetic"  # data=SYNTHETIC, like data=None, is the embedded synthetic market
#: ``data="synthetic:name=value,..."`` names the embedded synthetic market with those options of
#: :func:`~order_exec_gym.data.synthetic.synthetic_bars` (e.g. OrderExec-v1's ``"synthetic:signal=2"``).
SYNTHETIC_SPEC = "synthetic:"


def default_cache_dir() -> Path:
    """``$ORDER_EXEC_GYM_CACHE``, else ``~/.cache/order_exec_gym``."""
    return Path(os.environ.get("ORDER_EXEC_GYM_CACHE", Path.home() / ".cache" / "order_exec_gym"))


def open_market(data: MarketDataset | ShardedMarket | str | Path | None = None, **options: Any) -> MarketDataset | ShardedMarket:
    """Resolve ``data`` to a market: a dataset or a sharded market as it is, None or :data:`SYNTHETIC` for the
    embedded synthetic market (``options`` are its options), a preset name, a directory written by
    :meth:`MarketDataset.save` or by :func:`~order_exec_gym.data.shards.write_shards`."""
    if isinstance(data, ShardedMarket):
        return data
    named = isinstance(data, str) and (data == SYNTHETIC or data.startswith(SYNTHETIC_SPEC) or data in PRESETS)
    if isinstance(data, (str, Path)) and not named and is_sharded_directory(data):
        return ShardedMarket.open(data)
    return load_dataset(data, **options)


def load_dataset(data: MarketDataset | str | Path | None = None, **options: Any) -> MarketDataset:
    """Resolve the env's ``data`` to a market in memory: a dataset, None or :data:`SYNTHETIC`, a preset name, or a
    saved dataset directory.

    None or :data:`SYNTHETIC` gives the embedded synthetic market (``options`` are its options, see
    :func:`synthetic_dataset`), ``"synthetic:name=value,..."`` (:data:`SYNTHETIC_SPEC`) the same with those options;
    a preset's ``options`` are :func:`preset_dataset`'s.
    """
    if data is None or data == SYNTHETIC:
        return synthetic_dataset(**options)
    if isinstance(data, str) and data.startswith(SYNTHETIC_SPEC):
        return synthetic_dataset(**synthetic_options(data), **options)
    if isinstance(data, MarketDataset):
        return data
    if isinstance(data, ShardedMarket):
        raise ValueError(_SHARDED_HINT.format(path=data.directory))
    if isinstance(data, str) and data in PRESETS:
        return preset_dataset(data, **options)
    path = Path(data)
    if is_sharded_directory(path):
        raise ValueError(_SHARDED_HINT.format(path=path))
    if (path / "meta.json").exists():
        return MarketDataset.load(path)
    raise ValueError(
        f"cannot resolve data={data!r}: pass a MarketDataset, None or {SYNTHETIC!r} (the embedded synthetic "
        f"market), a preset name ({', '.join(PRESETS)}), or a directory written by MarketDataset.save "
        "(for your own files, see readers.read_bars)"
    )


_SHARDED_HINT = (
    "{path} is a market sharded on disk, larger than memory perhaps: open it with "
    "order_exec_gym.data.shards.ShardedMarket.open; evaluate() takes it as it is; an env trains on one of its "
    "shards (market.shard(i)), or on market.to_dataset() when it fits in memory"
)


def synthetic_options(spec: str) -> dict[str, int | float]:
    """The options of ``"synthetic:name=value,..."``: each name one of
    :func:`~order_exec_gym.data.synthetic.synthetic_bars`' options, each value of its default's type; a malformed
    spec, an unknown or repeated option or a value of the wrong type raises ``ValueError`` naming it."""
    parameters = inspect.signature(synthetic_bars).parameters
    options: dict[str, int | float] = {}
    for item in spec[len(SYNTHETIC_SPEC) :].split(","):
        name, equals, text = (part.strip() for part in item.partition("="))
        if not equals or name not in parameters or name in options:
            raise ValueError(
                f"data={spec!r}: {item.strip()!r} is not an option=value of the synthetic market (or repeats one); "
                f"write 'synthetic:name=value,...' with names from {list(parameters)}"
            )
        kind = type(parameters[name].default)  # int or float: the option's default tells
        try:
            options[name] = kind(text) if kind is float else int(text, 10)
        except ValueError:
            raise ValueError(f"data={spec!r}: option {name} must be {'a number' if kind is float else 'an integer'}, "
                             f"got {text!r}") from None  # fmt: skip
    return options


def is_sharded_directory(path: str | Path) -> bool:
    """Whether ``path`` is the directory of a sharded market (after recovering a write killed between its two
    renames, which left the old directory aside)."""
    path = Path(path)
    recover_directory(path)
    return (path / SHARDS).is_dir()


def synthetic_dataset(n_symbols: int = 30, n_days: int = 100, seed: int = 0, **options: Any) -> MarketDataset:
    """The embedded synthetic market (options: :func:`~order_exec_gym.data.synthetic.synthetic_bars`).

    Built once per process per set of options (the 16 most recently used are kept) and shared by every caller, so
    its arrays are read-only.
    """
    arguments = inspect.signature(synthetic_bars).bind(n_symbols=n_symbols, n_days=n_days, seed=seed, **options)
    arguments.apply_defaults()
    return _shared_synthetic(**arguments.arguments)


@functools.lru_cache(maxsize=16)
def _shared_synthetic(**options: Any) -> MarketDataset:
    """``episodes_from_bars(synthetic_bars(**options))`` with read-only arrays, built once per set of options."""
    dataset = replace(episodes_from_bars(synthetic_bars(**options)), model=options)
    for values in (dataset.symbols, dataset.dates, dataset.lengths, *dataset.bars.values()):
        values.flags.writeable = False
    return dataset


def preset_dataset(
    name: str,
    path: str | Path | None = None,
    cache: bool | str | Path = True,
    min_coverage: float = 0.9,
) -> MarketDataset:
    """A preset of :data:`order_exec_gym.data.presets.PRESETS`, through the on-disk cache.

    :param name: preset name, e.g. ``"ashare-1min"``
    :param path: the preset's folder (default: its folder under the shared data directory)
    :param cache: ``True`` for :func:`default_cache_dir`, a directory, or ``False`` for no cache
    :param min_coverage: see :func:`~order_exec_gym.data.build.episodes_from_bars`
    """
    preset = PRESETS[name] if name in PRESETS else load_preset(name)  # load_preset raises a clear error
    folder = preset_path(preset, path)
    key = _cache_key(name, folder, min_coverage)
    cache_dir = None if cache is False else (default_cache_dir() if cache is True else Path(cache)) / key
    if cache_dir is not None:
        recover_directory(cache_dir)
    if cache_dir is not None and cache_dir.exists():
        try:
            return MarketDataset.load(cache_dir)
        except DataError as error:  # a damaged cache is rebuilt, never trusted nor left broken
            warnings.warn(f"rebuilding the damaged cache of {name!r}: {error}", stacklevel=2)
    started = time.perf_counter()
    where = f"into the cache {cache_dir}" if cache_dir is not None else "(no cache)"
    print(f"order_exec_gym: building the episodes of {name!r} from {folder} {where}, once ...", file=sys.stderr, flush=True)
    dataset = _build_preset(name, folder, preset.splits, min_coverage, None if cache_dir is None else cache_dir.parent)
    if cache_dir is not None:
        dataset.save(cache_dir)
    print(f"order_exec_gym: {len(dataset):,} episodes of {name!r} built in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)  # fmt: skip
    return dataset


def _build_preset(name: str, folder: Path, splits: dict, min_coverage: float, scratch: Path | None) -> MarketDataset:
    """A preset's episodes; the large ones (:data:`~order_exec_gym.data.shards.STREAMED_PRESETS`) streamed through
    shards in a temporary directory in ``scratch`` (None: the system's; removed after, or by the next build when
    the process was killed), which bounds the memory to one group of instruments (the same episodes, report and splits as :func:`episodes_from_bars` of the whole preset, tested),
    then gathered in memory."""
    if name not in STREAMED_PRESETS:
        return episodes_from_bars(load_preset(name, folder), splits=splits, min_coverage=min_coverage)
    # <scratch>/<name>-build.tmp<pid>: a killed build's is removed by the next build (data.store.recover_directory)
    tmp = temporary_directory((scratch or Path(tempfile.gettempdir())) / f"{name}-build")
    try:
        market = preset_shards(name, tmp / "shards", path=folder, min_coverage=min_coverage)
        return replace(market.to_dataset(), context=None)  # an in-memory market's own context, as from_bars gives
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cache_key(name: str, folder: Path, min_coverage: float) -> str:
    """The cache's name: the preset, the settings and the contents (not the sizes and times) of every file."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    digest = hashlib.sha256(f"{CACHE_VERSION}|{name}|{min_coverage}".encode())
    for p in files:
        digest.update(f"{p.relative_to(folder)}|{file_digest(p)}".encode())
    return f"{name}-{digest.hexdigest()[:16]}"
