"""How the test engine cuts jobs into batches (what each worker's exec runs)."""

import pytest

from codeagent.evaluation.base import TestJob
from codeagent.evaluation.engine import BATCHES_PER_WORKER, MIN_BATCH, _batches


def _jobs(n):
    return [TestJob(key=str(i), files={}, test_files={}) for i in range(n)]


@pytest.mark.parametrize("n,workers", [(0, 2), (1, 4), (5, 8), (66, 6), (164, 2), (528, 6), (1640, 2), (5000, 2)])
def test_every_job_once_every_worker_busy_and_few_execs(n, workers):
    batches = _batches(_jobs(n), 256, workers)
    keys = [j.key for b in batches for j in b]
    assert sorted(keys, key=int) == [str(i) for i in range(n)]
    assert all(batches)
    if n >= workers:
        assert len(batches) >= workers  # nobody idles from the start
    if n >= workers * MIN_BATCH:
        assert min(map(len, batches)) >= MIN_BATCH // 2  # no batch so small that its exec dominates
    assert max(map(len, batches), default=0) <= 256
    if n <= 256 * workers * BATCHES_PER_WORKER:
        assert len(batches) <= max(workers, 1) * BATCHES_PER_WORKER


def test_many_jobs_give_several_batches_per_worker_so_a_slow_one_is_not_the_long_pole():
    batches = _batches(_jobs(528), 256, 6)
    assert len(batches) > 6
    # the samples of one task (adjacent jobs) land in different batches
    first = _batches(_jobs(528), 256, 6)
    where = {j.key: i for i, b in enumerate(first) for j in b}
    assert len({where[str(k)] for k in range(8)}) == 8
