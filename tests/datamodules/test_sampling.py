import pytest

from liftbench.datamodules.sampling import ShardedBatchSampler


@pytest.mark.parametrize("n, world", [(10, 1), (10, 2), (11, 2), (7, 3), (1, 2), (0, 2)])
def test_eval_shards_cover_each_sample_once(n, world):
    seen = []
    for rank in range(world):
        s = ShardedBatchSampler(n, batch_size=3, rank=rank, world_size=world)
        batches = list(s)
        assert len(batches) == len(s)
        seen += [i for b in batches for i in b]
    assert sorted(seen) == list(range(n))


@pytest.mark.parametrize("n, world", [(10, 2), (11, 2), (7, 3)])
def test_train_shards_equal_length_and_reshuffle(n, world):
    lens, firsts = set(), []
    for rank in range(world):
        s = ShardedBatchSampler(n, batch_size=2, shuffle=True, seed=1, rank=rank, world_size=world)
        lens.add(len(list(s)))
        s.set_epoch(0)
        a = [i for b in s for i in b]
        s.set_epoch(1)
        b = [i for b in s for i in b]
        firsts.append(a)
        assert sorted(a) != a or sorted(b) != b or n < 4
    assert len(lens) == 1
    covered = {i for f in firsts for i in f}
    assert covered == set(range(n))


def test_drop_last_and_bad_args():
    s = ShardedBatchSampler(10, batch_size=4, drop_last=True, rank=0, world_size=1)
    assert [len(b) for b in s] == [4, 4] and len(s) == 2
    with pytest.raises(ValueError):
        ShardedBatchSampler(10, batch_size=0)
    with pytest.raises(ValueError):
        ShardedBatchSampler(10, batch_size=2, rank=2, world_size=2)
