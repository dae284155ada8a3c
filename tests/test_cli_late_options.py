"""`liftbench --help` stays light: options that need heavy imports are added on use."""

import argparse
import subprocess
import sys

import pytest

from liftbench.bench.cli import CommandParser, _command_modules, build_parser, main


def test_help_imports_neither_torch_nor_lightning():
    code = ("import sys\nfrom liftbench.bench.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "heavy = [m for m in ('torch', 'lightning', 'liftbench.datamodules.synthetic')\n"
            "         if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "reproduce" in out.stdout and "perf" in out.stdout


def test_late_options_are_added_once_when_the_parser_is_used():
    built = []

    def build(p: argparse.ArgumentParser) -> None:
        built.append(p)
        p.add_argument("--level", type=int, default=1)
        inner = p.add_subparsers(dest="action")
        inner.add_parser("go", build=lambda q: q.add_argument("--far", action="store_true"))

    top = argparse.ArgumentParser(prog="t")
    sub = top.add_subparsers(dest="command", parser_class=CommandParser)
    sub.add_parser("cmd", help="a command", build=build)
    assert "a command" in top.format_help() and built == []  # the listing builds nothing
    args = top.parse_args(["cmd", "--level", "3", "go", "--far"])
    assert (args.level, args.action, args.far) == (3, "go", True) and len(built) == 1
    assert "--level" in sub.choices["cmd"].format_help() and len(built) == 1
    late = sub.add_parser("other", build=built.append)
    assert "usage: t other" in late.format_usage() and built[-1] is late


@pytest.mark.parametrize("command", _command_modules())
def test_every_command_and_action_prints_its_help(command, capsys):
    parser = build_parser([command])
    for name, p in parser._subparsers._group_actions[0].choices.items():
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0 and "usage: liftbench" in capsys.readouterr().out
        p.format_help()  # adds its late options, nested actions included
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for inner in action.choices:
                    with pytest.raises(SystemExit) as done:
                        main([name, inner, "--help"])
                    assert done.value.code == 0, (name, inner)
                    assert f"usage: liftbench {name} {inner}" in capsys.readouterr().out
