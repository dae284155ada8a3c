"""`Humans71MDataModule` ("humans71m"): registered real datasets merged into the universal frame.

Every sample carries a `source` index into `source_names`; the frame itself is `universal.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from liftbench.datamodules.humans71m.universal import merge
from liftbench.datamodules.real import RealDataModule
from liftbench.datamodules.records import SequenceRecord
from liftbench.datamodules.registry import create_datamodule, register_datamodule


@register_datamodule("humans71m")
class Humans71MDataModule(RealDataModule):
    """Humans7.1M: registered real datasets merged into the universal frame.

    Sets come from each source's own split (its `split` / `subjects` kwargs). Batches carry
    `source (B,)`, an index into `source_names`.

    Args:
        sources: `{dataset name: its DataModule kwargs (root, split, ...)}`, e.g.
            `{"h36m": {"root": ...}, "mpi_inf_3dhp": {"root": ...}}` (the paper: h36m, mads,
            aist, mpi_inf_3dhp).
        unit_m: metres per universal unit (default: half the mean shoulder width).
        **kwargs: `RealDataModule` clip/loader arguments (not `root`, `split`, `subjects`).
    """

    name = "humans71m"
    SPLITS = {"sources": {"test": []}}
    default_split = "sources"
    needs_root = False
    how_to = "Give `sources`: {dataset name: {root: PATH, ...}} of prepared datasets."

    def __init__(
        self, sources: Mapping[str, Mapping[str, Any]] | None = None,
        unit_m: float | None = None, root: str | Path | None = None, **kwargs: Any,
    ) -> None:
        if not isinstance(sources, Mapping) or not sources:
            raise ValueError(f"humans71m: `sources` is required. {self.how_to}")
        if "humans71m" in sources:
            raise ValueError("humans71m cannot merge itself")
        cache_dir = kwargs.get("cache_dir")
        self.sources = {
            name: create_datamodule(name, **{"cache_dir": cache_dir, **dict(opts)})
            if cache_dir else create_datamodule(name, **dict(opts))
            for name, opts in sources.items()
        }
        for name, dm in self.sources.items():
            if not isinstance(dm, RealDataModule):
                raise ValueError(f"humans71m: source {name!r} is not a real dataset")
        opts = {"unit_m": unit_m, "sources": {n: dm.records_key for n, dm in self.sources.items()},
                "splits": {n: dm.subject_sets for n, dm in self.sources.items()}}
        super().__init__(root=None, reader_options=opts, **kwargs)
        self.unit_m = unit_m
        self.source_names = sorted(self.sources)

    def read_records(self) -> Iterator[SequenceRecord]:
        """Every source's records in the universal frame, tagged with their source's sets."""
        loaded = {}
        for name, dm in self.sources.items():
            recs = [r for r in dm.load_records() if r.pose3d_world is not None]
            for r in recs:
                r.labels["sets"] = ",".join(dm.set_of(r))
            loaded[name] = recs
        merged, self.info = merge(loaded, self.unit_m, self.seed)
        yield from merged

    def set_of(self, rec: SequenceRecord) -> list[str]:
        """The sets the record had in its source dataset."""
        return [s for s in rec.labels.get("sets", "").split(",") if s]

    def sample_labels(self, records: list[SequenceRecord]) -> dict[str, list[int]]:
        """`source`: index of each record's source dataset in `source_names`."""
        return {"source": [self.source_names.index(r.labels["source"]) for r in records]}

    def protocol(self) -> dict[str, Any]:
        """Base protocol plus the merged sources and their splits."""
        return {**super().protocol(), "sources": {
            n: {"split": dm.split, "subjects": dm.subject_sets} for n, dm in self.sources.items()
        }}
