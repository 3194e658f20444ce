"""The per-client token bucket: bursts, refills, and a wait that is never zero when refused."""

from graphql_api.limits import RateLimiter


def test_bursts_then_refuses_then_refills() -> None:
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.retry_after(1, now=0.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after(1, now=0.0) == 1
    assert limiter.retry_after(2, now=0.0) == 0          # clients do not share a bucket
    assert limiter.retry_after(1, now=0.6) == 0          # 0.6 s refilled a request's worth


def test_zero_rate_means_no_limit() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.retry_after(1, now=0.0) == 0 for _ in range(100))
