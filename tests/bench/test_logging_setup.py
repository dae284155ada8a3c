"""Logger choice: wandb offline without an API key, disabled mode, csv, none — no network."""

from __future__ import annotations

import pytest

from liftbench.bench.config import compose
from liftbench.bench.logging_setup import build_logger, resolve_wandb_mode, wandb_run_id


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "missing-netrc"))


def test_mode_resolution(no_key, monkeypatch):
    assert resolve_wandb_mode("auto") == "offline"
    assert resolve_wandb_mode("disabled") == "disabled"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_mode("auto") == "online"
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert resolve_wandb_mode("online") == "offline"  # the environment wins
    monkeypatch.delenv("WANDB_MODE")
    with pytest.raises(ValueError, match="logger.mode"):
        resolve_wandb_mode("sometimes")


def test_offline_wandb_keeps_a_run_id_and_the_config(no_key, tmp_path):
    cfg = compose(["logger=wandb", "model=motionagformer_xs"])
    logger = build_logger(cfg, tmp_path, "run-a", None)
    run_id = wandb_run_id(logger)
    assert run_id and logger.experiment.config["model"]["name"] == "motionagformer_xs"
    assert list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}"))
    import wandb

    wandb.finish()
    again = build_logger(cfg, tmp_path, "run-a", run_id)  # a resumed run continues that id
    assert wandb_run_id(again) == run_id
    wandb.finish()


def test_disabled_csv_and_none(no_key, monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    logger = build_logger(compose(["logger=wandb"]), tmp_path, "run-b", None)
    logger.log_metrics({"val/mpjpe": 1.0})
    assert not (tmp_path / "wandb").exists() or not list((tmp_path / "wandb").glob("offline-*"))
    csv = build_logger(compose(["logger=csv"]), tmp_path, "run-c", None)
    csv.log_metrics({"val/mpjpe": 1.0}, step=0)
    csv.save()
    assert "val/mpjpe" in (tmp_path / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert build_logger(compose(["logger=none"]), tmp_path, "run-d", None) is False
