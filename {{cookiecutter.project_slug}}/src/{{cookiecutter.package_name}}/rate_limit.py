"""A fixed-window rate limiter on Redis: one INCR per attempt, the window set on the first."""

from dataclasses import dataclass

from redis.asyncio import Redis

from .errors import RateLimitedError


@dataclass(frozen=True, slots=True)
class FixedWindowRateLimiter:
    redis: "Redis"
    key_prefix: str
    limit: int
    window_seconds: int

    async def hit(self, bucket: str) -> None:
        """Count one attempt in `bucket`; raise RateLimitedError past the limit."""
        key = f"{self.key_prefix}ratelimit:{bucket}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            # NX: only the first hit of a window sets its expiry, so the window is fixed.
            pipe.expire(key, self.window_seconds, nx=True)
            pipe.ttl(key)
            count, _, ttl = await pipe.execute()
        if int(count) > self.limit:
            raise RateLimitedError(
                "Too many attempts; try again later.", retry_after=max(int(ttl), 1)
            )
