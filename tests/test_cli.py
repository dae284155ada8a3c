import subprocess
import sys

import pytest

from liftbench.bench import __version__
from liftbench.bench.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "perf" in out


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "liftbench", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("liftbench ")


def test_bad_import_is_a_clear_error():
    with pytest.raises(SystemExit, match="no_such_module_xyz"):
        main(["--import", "no_such_module_xyz", "perf"])
