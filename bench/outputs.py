"""All-or-nothing output files: write beside the target, then rename into place.

A command that fails part-way (bad input found late, disk full, Ctrl-C) must not leave a
half-written or stale-looking output behind. `staged` hands out temporary paths in the target
folders and moves them onto the real names only when the whole block succeeded; otherwise it
deletes them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def with_extension(stem: str | Path, ext: str, replace: tuple[str, ...] = ()) -> Path:
    """`stem` + `ext`, replacing the suffix only when it is one of `replace`.

    `with_extension("runs/take.v1", ".npz", (".npz", ".json"))` is `runs/take.v1.npz`
    (`Path.with_suffix` would give `runs/take.npz`).
    """
    stem = Path(stem)
    if stem.suffix and stem.suffix in replace:
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ext)


class Staging:
    """Temporary twins of output paths; see `staged`."""

    def __init__(self) -> None:
        self.moves: list[tuple[Path, Path]] = []

    def path(self, target: str | Path) -> Path:
        """A temporary path in `target`'s folder (created) with the same suffix."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}",
                                   dir=target.parent)
        os.close(fd)
        self.moves.append((Path(tmp), target))
        return Path(tmp)

    def folder(self, target: str | Path) -> Path:
        """A temporary folder beside `target`, moved onto `target` at the end."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part",
                                    dir=target.parent))
        self.moves.append((tmp, target))
        return tmp

    def _discard(self) -> None:
        for tmp, _ in self.moves:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)

    def _commit(self) -> None:
        for tmp, target in self.moves:
            if tmp.is_dir() and target.is_dir():
                for item in tmp.iterdir():  # a folder of frames: merge into the existing one
                    os.replace(item, target / item.name)
                tmp.rmdir()
            else:
                os.replace(tmp, target)


@contextmanager
def staged() -> Iterator[Staging]:
    """Stage outputs; they appear under their real names only if the block succeeds.

    Example:
        with staged() as out:
            np.savez(out.path("a.npz"), x=x)   # written to a temporary twin of a.npz
        # a.npz exists now; after an exception nothing would
    """
    staging = Staging()
    try:
        yield staging
    except BaseException:
        staging._discard()
        raise
    staging._commit()
