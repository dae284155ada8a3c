"""liftbench: benchmark 2D-to-3D human pose lifters in sports.

Everything installs under this one import namespace, so a research project's own `models`,
`losses`, `datamodules`, ... packages are never shadowed:

- `liftbench.models`: lifters behind a registry (`create_lifter`, `list_lifters`, `load_official`)
- `liftbench.losses`: loss functions
- `liftbench.datamodules`: LightningDataModules and dataset readers
- `liftbench.geometry`: joint sets, cameras, Procrustes, triangulation, calibration
- `liftbench.leaderboard`: run records, tables, plots, the papers' reported numbers
- `liftbench.bench`: the engine (CLI, configs, regimes, metrics, benchmarks)

In the repository these are the top-level folders beside this one (`models/`, `losses/`, ...);
the packaging (`setup.py`) maps each to its `liftbench.` name. Importing this package imports
none of them (and no torch), so `import liftbench` is cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("liftbench")
except PackageNotFoundError:  # a source tree that was not pip-installed
    __version__ = "0.0.0+unknown"

SUBPACKAGES = ("bench", "datamodules", "geometry", "leaderboard", "losses", "models")

__all__ = ["SUBPACKAGES", "__version__"]
