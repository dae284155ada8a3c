import os
import pickle

import numpy as np
import pytest

from liftbench.datamodules.safe_pickle import UnsafePickleError, load_npz, load_pickle, loads_pickle


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/datasets_pwned_marker",))


def _payload():
    return {
        "train": {"joint_2d": np.arange(12, dtype=np.float32).reshape(2, 3, 2),
                  "source": np.array(["s_01_act_02", "s_01_act_02"]),
                  "n": 3, "f": 1.5, "t": (1, "a"), "s": {1, 2}},
        "lst": [np.float64(2.5), np.int64(7), None, True, b"xy"],
    }


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_roundtrip_numpy_and_builtins(tmp_path, protocol):
    path = tmp_path / "a.pkl"
    path.write_bytes(pickle.dumps(_payload(), protocol=protocol))
    got = load_pickle(path)
    ref = _payload()
    np.testing.assert_array_equal(got["train"]["joint_2d"], ref["train"]["joint_2d"])
    assert got["train"]["joint_2d"].dtype == np.float32
    assert list(got["train"]["source"]) == list(ref["train"]["source"])
    assert got["train"]["t"] == (1, "a") and got["train"]["s"] == {1, 2}
    assert got["lst"][0] == 2.5 and got["lst"][1] == 7 and got["lst"][4] == b"xy"


def test_malicious_pickle_refused_and_not_run(tmp_path):
    marker = "/tmp/datasets_pwned_marker"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": _Evil()}))
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl.*(posix|os)\.system"):
        load_pickle(path)
    assert not os.path.exists(marker)


def test_arbitrary_class_refused():
    from collections import Counter
    with pytest.raises(UnsafePickleError, match="Counter"):
        loads_pickle(pickle.dumps(Counter("ab")), "c.pkl")


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        load_pickle(tmp_path / "nope.pkl")
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"\x80\x04garbage")
    with pytest.raises(ValueError, match="bad.pkl"):
        load_pickle(bad)


def test_npz_object_arrays(tmp_path):
    path = tmp_path / "data_3d.npz"
    d = {"S1": {"Walking": np.ones((4, 32, 3), np.float32)}}
    np.savez_compressed(path, positions_3d=d, plain=np.arange(6).reshape(2, 3))
    got = load_npz(path)
    assert got["positions_3d"].item()["S1"]["Walking"].shape == (4, 32, 3)
    np.testing.assert_array_equal(got["plain"], np.arange(6).reshape(2, 3))
    evil = tmp_path / "evil.npz"
    np.savez(evil, positions_3d=np.array([_Evil()], dtype=object))
    with pytest.raises(UnsafePickleError, match="evil.npz"):
        load_npz(evil)
