"""A run's experiment identity, and the identity of the checkpoint it started from (`init_from`).

Two runs are seeds of one experiment when their configs differ by the seed alone, once the keys
that only name or place a run are left out (`BOOKKEEPING`). A run fine-tuned from a checkpoint
(`init_from=<path>`) is identified by *what* it started from, never by the path: each seed of
an adaptation starts from its own pre-trained seed (another path per seed), and these runs are
still the seeds of one experiment. `Lineage.parent` names the checkpoint by, in this order:

1. the run record that wrote it: a record whose run id is a folder of the path
   (`<output_dir>/<run_id>/checkpoints/best.ckpt`, where `fit` keeps its checkpoints), or whose
   own `checkpoint` field is the path → that run's identity;
2. the run folder that holds it (`<run_id>/config.yaml` beside `checkpoints/`) when its record
   is not among those read → the same identity, computed from the saved config;
3. the file's content (official weights, any file outside a run folder): `sha256:<12 hex>`,
   shown by the file name;
4. the path as written, when none of these is found (the file was moved or deleted).

A run's identity is `"<lifter> <regime> #<hash>"`: the first 8 hex digits of the SHA-256 of its
flattened config minus the bookkeeping keys, its own `init_from` replaced by its parent's
identity (recursively). A relative `init_from` is looked up from the working directory, then
from each given root folder and the folders above it (the path was relative to wherever `fit`
ran; the results folder usually lies below that place).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from liftbench.leaderboard.records import RunRecord

# Config keys that do not change the experiment (where a run is written, how it is named, ...).
BOOKKEEPING = ("seed", "run_name", "output_dir", "results_dir", "ckpt_path", "logger", "sweep",
               "choices")
HASH_CHARS = 12  # hex digits of a foreign checkpoint's SHA-256 shown and compared


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """A nested mapping as `{dotted key: leaf}` (an empty mapping is a leaf)."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def short_hash(data: dict[str, Any]) -> str:
    """First 8 hex digits of the SHA-256 of `data` as canonical JSON."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def file_sha256(path: Path, chars: int = HASH_CHARS) -> str:
    """The first `chars` hex digits of the SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:chars]


@dataclass(frozen=True)
class Parent:
    """What a run started from.

    Attributes:
        identity: compared between runs (`"<lifter> <regime> #<hash>"`, `"sha256:<hex>"` or the
            path as written).
        text: how table notes name it.
        kind: `"run"` (a run's checkpoint), `"file"` (a foreign file) or `"path"` (not found).
    """

    identity: str
    text: str
    kind: str


class Lineage:
    """Experiment identities of records, their `init_from` resolved (see the module doc).

    Args:
        records: the records read (a parent among them is matched by run id first).
        roots: folders to look up relative `init_from` paths from (with their ancestors), after
            the working directory; typically the results folder the records were read from.
    """

    def __init__(self, records: Sequence[RunRecord],
                 roots: Iterable[str | os.PathLike] = ()) -> None:
        self.by_id = {r.run_id: r for r in records}
        # the checkpoint a record was evaluated with (absolute; older records have none)
        self.by_checkpoint = {os.path.normpath(r.checkpoint): r for r in records if r.checkpoint}
        self.roots = [Path(p).resolve() for p in roots]
        self._variants: dict[str, dict[str, Any]] = {}
        self._parents: dict[str, Parent] = {}

    # ------------------------------------------------------------------------------ records
    def variant(self, record: RunRecord) -> dict[str, Any]:
        """The record's flattened identifying config, `init_from` as its parent's identity.

        Records without a stored config (hand-written ones) fall back to their loss weights and
        sweep parameters.
        """
        return self._variant(record, frozenset())

    def identity(self, record: RunRecord) -> str:
        """`"<lifter> <regime> #<hash of variant>"`: equal for the seeds of one experiment."""
        return _identity(record.lifter["name"], record.regime["name"], self.variant(record))

    def parent(self, record: RunRecord) -> Parent | None:
        """What the record's run started from (None without `init_from`)."""
        init = (record.config or {}).get("init_from")
        return self.resolve(init) if isinstance(init, str) and init else None

    def _variant(self, record: RunRecord, seen: frozenset[str]) -> dict[str, Any]:
        if record.run_id in self._variants:
            return self._variants[record.run_id]
        if not record.config:
            weights = dict(record.regime.get("loss_weights") or {})
            params = {k: v for k, v in ((record.sweep or {}).get("params") or {}).items()
                      if k != "seed" and k.removeprefix("regime.loss.") not in weights}
            flat = {**{f"regime.loss.{k}": v for k, v in weights.items()}, **params}
        else:
            flat = self._config_variant(record.config, seen | {record.run_id})
        self._variants[record.run_id] = flat
        return flat

    def _config_variant(self, config: dict[str, Any], seen: frozenset[str]) -> dict[str, Any]:
        flat = flatten({k: v for k, v in config.items() if k not in BOOKKEEPING})
        init = flat.get("init_from")
        if isinstance(init, str) and init:
            flat["init_from"] = self._resolve(init, seen).identity
        return flat

    # ---------------------------------------------------------------------------- checkpoints
    def resolve(self, init_from: str) -> Parent:
        """The identity of the checkpoint `init_from` names (cached per path)."""
        return self._resolve(init_from, frozenset())

    def _resolve(self, init: str, seen: frozenset[str]) -> Parent:
        if init in self._parents:
            return self._parents[init]
        parent = self._from_record(init, seen) or self._from_file(init, seen) or Parent(
            identity=init, text=f"{init} (not found: no record, run folder or file)",
            kind="path")
        self._parents[init] = parent
        return parent

    def _from_record(self, init: str, seen: frozenset[str]) -> Parent | None:
        source = next((self.by_checkpoint[key] for key in self._checkpoint_keys(init)
                       if key in self.by_checkpoint), None)
        if source is None:  # any checkpoint of the run folder (last.ckpt, ...); older records
            source = next((self.by_id[p] for p in PurePath(init).parts if p in self.by_id), None)
        if source is None or source.run_id in seen:
            return None
        identity = _identity(source.lifter["name"], source.regime["name"],
                             self._variant(source, seen))
        return Parent(identity, _describe(source.lifter["name"], source.lifter.get("size"),
                                          source.regime["name"], identity), "run")

    def _from_file(self, init: str, seen: frozenset[str]) -> Parent | None:
        path = next((p for p in self._candidates(init) if p.is_file()), None)
        if path is None:
            return None
        config = _run_folder_config(path)
        key = str(path.resolve())
        if config is not None and key not in seen:
            model, regime = config.get("model") or {}, config.get("regime") or {}
            if isinstance(model, dict) and isinstance(regime, dict) and "name" in model \
                    and "name" in regime:
                identity = _identity(model["name"], regime["name"],
                                     self._config_variant(config, seen | {key}))
                return Parent(identity, _describe(model["name"], model.get("size"),
                                                  regime["name"], identity), "run")
        digest = file_sha256(path)
        return Parent(f"sha256:{digest}", f"file {path.name}, sha256 {digest}", "file")

    def _checkpoint_keys(self, init: str) -> list[str]:
        """`init` as written and as every existing file it may name, absolute."""
        if not self.by_checkpoint:
            return []
        keys = [os.path.normpath(init)]
        keys += [str(p.resolve()) for p in self._candidates(init) if p.is_file()]
        return keys

    def _candidates(self, init: str) -> list[Path]:
        path = Path(init).expanduser()
        if path.is_absolute():
            return [path]
        out = [path]
        for root in self.roots:
            out += [folder / path for folder in (root, *root.parents)]
        return out


def _identity(lifter: str, regime: str, variant: dict[str, Any]) -> str:
    return f"{lifter} {regime} #{short_hash(variant)}"


def _describe(lifter: str, size: Any, regime: str, identity: str) -> str:
    sized = f"{lifter} ({size})" if size else lifter
    return f"checkpoints of {sized} · {regime} runs (config {identity.rpartition(' ')[2]})"


def _run_folder_config(checkpoint: Path) -> dict[str, Any] | None:
    """The saved config of the run folder holding `checkpoint` (`<run>/checkpoints/x.ckpt`)."""
    if checkpoint.parent.name != "checkpoints":
        return None
    config = checkpoint.parent.parent / "config.yaml"
    if not config.is_file():
        return None
    from omegaconf import OmegaConf  # the format `fit` saves it in (`bench.config.save_config`)

    try:
        data = OmegaConf.to_container(OmegaConf.load(config), resolve=True)
    except Exception as exc:  # any parse error: name the file, then hash the checkpoint
        warnings.warn(f"{config}: unreadable run config ({exc}); the checkpoint beside it is "
                      "identified by its content", stacklevel=3)
        return None
    return data if isinstance(data, dict) else None
