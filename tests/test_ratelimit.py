from gateway.ratelimit import SlidingWindowLimiter


def test_sliding_window_frees_slots_as_they_age() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(3, 60.0, clock=lambda: now[0])
    for t in (0.0, 1.0, 2.0):
        now[0] = t
        assert limiter.acquire("s") is None
    now[0] = 10.0
    assert limiter.acquire("s") == 50.0  # the oldest slot frees at t=60
    assert limiter.acquire("other") is None  # keys are independent
    now[0] = 60.0
    assert limiter.acquire("s") is None  # t=0 aged out
    assert limiter.acquire("s") == 1.0  # t=1 frees at 61
