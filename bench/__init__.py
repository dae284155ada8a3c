"""liftbench engine: CLI, configs, regimes, metrics, trainer wiring, benchmarks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("liftbench")
except PackageNotFoundError:  # running from a source tree that was not pip-installed
    __version__ = "0.0.0+unknown"
