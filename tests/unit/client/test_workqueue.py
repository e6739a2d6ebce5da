"""Work queue and rate limiter semantics (client-go's), driven by a fake clock where time matters."""

from __future__ import annotations

import threading

import pytest

from minik.client.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
    default_controller_rate_limiter,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def drain(q: RateLimitingQueue) -> list[str]:
    out = []
    while (key := q.get(timeout=0)) is not None:
        out.append(key)
    return out


def test_add_dedupes_and_keeps_fifo_order() -> None:
    q = RateLimitingQueue()
    for key in ("default/a", "default/b", "default/a", "default/c", "default/b"):
        q.add(key)
    assert len(q) == 3
    assert drain(q) == ["default/a", "default/b", "default/c"]


def test_key_added_while_processing_is_requeued_only_after_done() -> None:
    q = RateLimitingQueue()
    q.add("a")
    assert q.get(timeout=0) == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0  # never handed to a second worker while the first holds it
    assert q.get(timeout=0) is None
    q.done("a")
    assert len(q) == 1
    assert q.get(timeout=0) == "a"
    q.done("a")
    assert len(q) == 0  # not dirty any more: done does not requeue


def test_done_without_re_add_does_not_requeue() -> None:
    q = RateLimitingQueue()
    q.add("a")
    key = q.get(timeout=0)
    assert key == "a"
    q.done(key)
    assert q.get(timeout=0) is None


def test_get_blocks_until_another_thread_adds() -> None:
    q = RateLimitingQueue()
    got: list[str | None] = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    q.add("x")
    t.join(5)
    assert not t.is_alive()
    assert got == ["x"]


def test_get_returns_none_on_timeout() -> None:
    q = RateLimitingQueue()
    assert q.get(timeout=0.01) is None


def test_shut_down_drains_then_returns_none_and_ignores_adds() -> None:
    q = RateLimitingQueue()
    q.add("a")
    q.shut_down()
    assert q.shutting_down()
    q.add("b")
    assert q.get() == "a"
    assert q.get() is None


def test_shut_down_wakes_blocked_getters() -> None:
    q = RateLimitingQueue()
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(q.get())) for _ in range(3)]
    for t in threads:
        t.start()
    q.shut_down()
    for t in threads:
        t.join(5)
        assert not t.is_alive()
    assert results == [None, None, None]


def test_add_after_waits_for_the_delay() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(clock=clock)
    q.add_after("a", 10)
    assert len(q) == 0
    assert q.get(timeout=0) is None
    clock.advance(9.9)
    assert len(q) == 0
    clock.advance(0.1)
    assert q.get(timeout=0) == "a"


def test_add_after_keeps_the_earliest_time_per_key() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(clock=clock)
    q.add_after("a", 10)
    q.add_after("a", 5)
    q.add_after("a", 20)
    clock.advance(5)
    assert drain(q) == ["a"]
    clock.advance(100)
    assert drain(q) == []  # superseded entries do not fire again


def test_add_after_zero_adds_now_and_delayed_key_dedupes_with_queued_one() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(clock=clock)
    q.add_after("a", 0)
    q.add_after("b", 1)
    q.add("b")
    clock.advance(1)
    assert drain(q) == ["a", "b"]


def test_add_after_wakes_a_blocked_getter_with_real_time() -> None:
    q = RateLimitingQueue()
    got: list[str | None] = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
    t.start()
    q.add_after("later", 0.05)
    t.join(10)
    assert got == ["later"]


def test_shut_down_drops_delayed_keys() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(clock=clock)
    q.add_after("a", 1)
    q.shut_down()
    clock.advance(2)
    assert q.get() is None


def test_exponential_failure_rate_limiter() -> None:
    rl = ItemExponentialFailureRateLimiter(base=0.005, max_delay=0.04)
    assert [rl.when("a") for _ in range(5)] == [0.005, 0.01, 0.02, 0.04, 0.04]
    assert rl.when("b") == 0.005  # per item
    assert rl.num_requeues("a") == 5
    rl.forget("a")
    assert rl.num_requeues("a") == 0
    assert rl.when("a") == 0.005


def test_exponential_failure_rate_limiter_caps_huge_exponents() -> None:
    rl = ItemExponentialFailureRateLimiter(base=1, max_delay=1000)
    delays = [rl.when("a") for _ in range(100)]
    assert delays[-1] == 1000


def test_bucket_rate_limiter_allows_burst_then_spaces_by_qps() -> None:
    clock = FakeClock()
    rl = BucketRateLimiter(qps=2, burst=3, clock=clock)
    assert [rl.when(k) for k in "abc"] == [0, 0, 0]
    assert rl.when("d") == 0.5
    assert rl.when("e") == 1.0
    clock.advance(10)  # refills to the burst size, not beyond
    assert [rl.when(k) for k in "fgh"] == [0, 0, 0]
    assert rl.when("i") == 0.5
    assert rl.num_requeues("a") == 0


def test_bucket_rate_limiter_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        BucketRateLimiter(qps=0)


def test_max_of_rate_limiter_takes_the_longest_delay() -> None:
    clock = FakeClock()
    rl = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.1, 10), BucketRateLimiter(1, 1, clock=clock))
    assert rl.when("a") == 0.1  # bucket still has its token
    assert rl.when("a") == 1.0  # bucket now slower than the item back-off (0.2)
    assert rl.num_requeues("a") == 2
    rl.forget("a")
    assert rl.num_requeues("a") == 0


def test_default_controller_rate_limiter_starts_at_5ms() -> None:
    rl = default_controller_rate_limiter()
    assert rl.when("k") == 0.005
    assert rl.when("k") == 0.01
    assert rl.num_requeues("k") == 2


def test_add_rate_limited_delays_by_failures_and_forget_resets() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(ItemExponentialFailureRateLimiter(base=1, max_delay=100), clock=clock)
    q.add_rate_limited("a")
    assert q.get(timeout=0) is None
    clock.advance(1)
    assert q.get(timeout=0) == "a"
    q.done("a")
    q.add_rate_limited("a")
    clock.advance(1)
    assert q.get(timeout=0) is None  # second failure waits 2s
    clock.advance(1)
    assert q.get(timeout=0) == "a"
    q.done("a")
    assert q.num_requeues("a") == 2
    q.forget("a")
    assert q.num_requeues("a") == 0
    q.add_rate_limited("a")
    clock.advance(1)
    assert q.get(timeout=0) == "a"


def test_many_workers_never_process_the_same_key_concurrently() -> None:
    q = RateLimitingQueue()
    active: set[str] = set()
    overlaps: list[str] = []
    processed: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while (key := q.get()) is not None:
            with lock:
                if key in active:
                    overlaps.append(key)
                active.add(key)
            with lock:
                active.discard(key)
                processed.append(key)
            q.done(key)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(2000):
        q.add(f"k{i % 7}")
    q.shut_down()
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    assert overlaps == []
    assert set(processed) == {f"k{i}" for i in range(7)}
