"""LocalExecutor: every item comes back once, failures come back as data, work runs in parallel."""

import threading
import time

import pytest

from codeagent.errors import UserError
from codeagent.executor import EXECUTORS, LocalExecutor, make_executor


def test_every_item_once_and_failures_are_data():
    def fn(x):
        if x % 3 == 0:
            raise ValueError(f"bad {x}")
        return x * 10

    with LocalExecutor(workers=3) as ex:
        outcomes = list(ex.map_unordered(fn, range(20)))
    assert sorted(o.item for o in outcomes) == list(range(20))
    for o in outcomes:
        if o.item % 3 == 0:
            assert not o.ok and isinstance(o.error, ValueError) and f"bad {o.item}" in o.traceback
            assert o.result is None
        else:
            assert o.ok and o.result == o.item * 10


def test_runs_items_concurrently_up_to_workers():
    active, peak, lock = [0], [0], threading.Lock()

    def fn(x):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return x

    start = time.monotonic()
    with LocalExecutor(workers=4) as ex:
        results = sorted(o.result for o in ex.map_unordered(fn, range(8)))
    assert results == list(range(8))
    assert peak[0] == 4
    assert time.monotonic() - start < 0.2 * 8 / 2  # clearly faster than one at a time


def test_items_are_taken_lazily_and_an_early_stop_cancels_the_rest():
    taken = []

    def items():
        for i in range(1000):
            taken.append(i)
            yield i

    ex = LocalExecutor(workers=2)
    it = ex.map_unordered(lambda x: time.sleep(0.01) or x, items())
    first = [next(it).result for _ in range(3)]
    it.close()
    ex.close()
    assert len(first) == 3
    assert len(taken) < 20  # bounded in flight, not all 1000 submitted up front


def test_registry():
    assert isinstance(make_executor("local", workers=2), LocalExecutor)
    with pytest.raises(UserError, match="unknown executor 'dask'; known: local, ray"):
        make_executor("dask")
    assert set(EXECUTORS) == {"local", "ray"}
    with pytest.raises(UserError, match="at least 1"):
        LocalExecutor(workers=0)


def test_a_stateful_fn_is_opened_once_before_its_first_item_and_closed_with_the_executor():
    class Stateful:
        def __init__(self):
            self.events = []

        def open(self):
            self.events.append("open")

        def __call__(self, x):
            assert self.events[0] == "open"
            return x

        def close(self):
            self.events.append("close")

    fn = Stateful()
    ex = LocalExecutor(workers=2)
    assert ex.in_process
    for _ in range(2):  # a second map over the same fn does not open it again
        assert sorted(o.result for o in ex.map_unordered(fn, range(5))) == list(range(5))
    assert fn.events == ["open"]
    ex.close()
    assert fn.events == ["open", "close"]
