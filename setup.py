"""Package layout only (metadata lives in pyproject.toml).

The repository keeps its top-level folders (`bench/`, `models/`, `datamodules/`, `losses/`,
`leaderboard/`, `geometry/`), and they install under the single import namespace `liftbench`
(`liftbench.models`, ...), so they never shadow a user's own top-level packages of those names.
The sub-packages are discovered here, so a new folder with an `__init__.py` ships without edits.
"""

from setuptools import find_packages, setup

PARTS = ("bench", "datamodules", "geometry", "leaderboard", "losses", "models")

packages = ["liftbench"]
package_dir = {"liftbench": "liftbench"}
for part in PARTS:
    packages += [f"liftbench.{part}"] + [f"liftbench.{part}.{p}" for p in find_packages(part)]
    package_dir[f"liftbench.{part}"] = part

setup(packages=packages, package_dir=package_dir)
