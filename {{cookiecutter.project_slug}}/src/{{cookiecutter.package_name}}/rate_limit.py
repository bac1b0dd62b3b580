"""A fixed-window rate limiter on Redis: one INCR per attempt, the window set on the first."""

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .errors import RateLimitedError, ServiceUnavailableError


@dataclass(frozen=True, slots=True)
class FixedWindowRateLimiter:
    redis: "Redis"
    key_prefix: str
    limit: int
    window_seconds: int
    # A server that does not answer fails the attempt in this time instead of hanging it.
    timeout_seconds: float = 2.0

    async def hit(self, bucket: str) -> None:
        """Count one attempt in `bucket`; raise RateLimitedError past the limit.

        Without Redis (refused, or silent past `timeout_seconds`) nothing can be counted: the
        attempt is refused (503) rather than let through unlimited, and never is a 500.
        """
        key = f"{self.key_prefix}ratelimit:{bucket}"
        try:
            async with asyncio.timeout(self.timeout_seconds):
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    # NX: only the first hit of a window sets its expiry: the window is fixed.
                    pipe.expire(key, self.window_seconds, nx=True)
                    pipe.ttl(key)
                    count, _, ttl = await pipe.execute()
        except (RedisError, TimeoutError) as exc:
            raise ServiceUnavailableError(
                "The rate limiter is unavailable; try again later."
            ) from exc
        if int(count) > self.limit:
            raise RateLimitedError(
                "Too many attempts; try again later.", retry_after=max(int(ttl), 1)
            )
