"""One registry mechanism for lifters, datamodules and regimes (`liftbench.registry`).

Each kind is checked the same way: a plug-in that an installed distribution declares under the
kind's entry-point group is found by name, the three decorator forms register, and an unknown
name fails listing the valid ones. The plug-in distribution is a real one on `sys.path` (a
`*.dist-info` folder with `entry_points.txt`), found by `importlib.metadata` itself.
"""

from __future__ import annotations

import sys
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from liftbench.bench.regimes import registry as regimes
from liftbench.datamodules import registry as datamodules
from liftbench.models import registry as lifters
from liftbench.registry import Registry


@dataclass(frozen=True)
class Kind:
    registry: Registry
    group: str
    register: Callable[..., Any]
    create: Callable[..., Any]
    names: Callable[..., list[str]]
    entry: Callable[[str], Any]
    plugin: str  # module source registering `plugin_<kind>` with the bare decorator


def _regime_plugin_cls() -> str:
    return """
        from liftbench.bench.regimes.registry import register_regime


        @register_regime
        class PluginRegime:
            regime_name = "plugin_regime"

            def __init__(self, **kwargs):
                self.kwargs = kwargs
    """


KINDS = {
    "lifter": Kind(lifters.LIFTERS, "liftbench.lifters", lifters.register_lifter,
                   lifters.create_lifter, lifters.list_lifters, lifters.get_lifter_entry, """
        from torch import nn

        from liftbench.models import register_lifter


        @register_lifter(paper="a plug-in")
        def plugin_lifter(**overrides):
            return nn.Identity()
    """),
    "datamodule": Kind(datamodules.DATAMODULES, "liftbench.datamodules",
                       datamodules.register_datamodule, datamodules.create_datamodule,
                       datamodules.list_datamodules, datamodules.get_datamodule_entry, """
        from liftbench.datamodules.registry import register_datamodule


        @register_datamodule
        class PluginData:
            name = "plugin_datamodule"

            def __init__(self, **kwargs):
                self.kwargs = kwargs
    """),
    "regime": Kind(regimes.REGIMES, "liftbench.regimes", regimes.register_regime,
                   regimes.create_regime, regimes.list_regimes, regimes.get_regime_entry,
                   _regime_plugin_cls()),
}


@pytest.fixture
def isolated(monkeypatch):
    """Registries that forget what a test registers and load their plug-ins again."""
    for kind in KINDS.values():
        kind.registry.load()  # the built-ins stay registered in the restored registry
        monkeypatch.setattr(kind.registry, "entries", dict(kind.registry.entries))
    return monkeypatch


def _fake_distribution(root, module: str, group: str, target: str) -> None:
    dist = root / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\nplugin = {target}\n")


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_installed_plugin_is_found_by_name(kind, tmp_path, isolated):
    spec = KINDS[kind]
    module = f"liftbench_plugin_{kind}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(spec.plugin))
    _fake_distribution(tmp_path, module, spec.group, module)
    _fake_distribution(tmp_path, f"{module}_broken", spec.group, "no_such_module_xyz")
    isolated.syspath_prepend(str(tmp_path))
    isolated.delitem(sys.modules, module, raising=False)
    isolated.setattr(spec.registry, "_loaded", False)
    name = f"plugin_{kind}"
    with pytest.warns(UserWarning, match="could not load .*no_such_module_xyz"):
        names = spec.names()  # the first lookup loads the group's entry points
    assert name in names and module in sys.modules
    assert spec.entry(name).name == name
    assert spec.create(name) is not None
    assert spec.names(f"{name[:8]}*") == [name]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_three_decorator_forms(kind, isolated):
    register = KINDS[kind].register

    def make(**kwargs):
        return kwargs

    make.name = make.regime_name = None  # no name of its own: the function's name is used
    for form, name in ((lambda f: register(f), "make"),
                       (lambda f: register(f"{kind}_positional")(f), f"{kind}_positional"),
                       (lambda f: register(name=f"{kind}_keyword")(f), f"{kind}_keyword")):
        assert form(make) is make
        assert KINDS[kind].entry(name).name == name


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_unknown_name_lists_the_valid_ones(kind):
    spec = KINDS[kind]
    known = spec.names()
    assert known
    with pytest.raises(ValueError, match=f"unknown .*'{known[0][:-1]}'") as err:
        spec.entry(known[0][:-1])  # a near miss is suggested
    assert "did you mean" in str(err.value)
    assert all(n in str(err.value) for n in known)


@pytest.mark.parametrize("kind", list(KINDS))
def test_registering_a_taken_name_again_warns(kind, isolated):
    register = KINDS[kind].register

    def first(**kwargs):
        return kwargs

    def second(**kwargs):
        return kwargs

    register(f"{kind}_twice")(first)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register(f"{kind}_twice")(first)  # the same object again is no conflict
    with pytest.warns(UserWarning, match="registered twice"):
        register(f"{kind}_twice")(second)
