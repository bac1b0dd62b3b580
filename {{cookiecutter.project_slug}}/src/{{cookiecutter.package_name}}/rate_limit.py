"""A fixed-window rate limiter on Redis: one INCR per attempt, the window set on the first."""

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

    async def hit(self, bucket: str) -> None:
        """Count one attempt in `bucket`; raise RateLimitedError past the limit.

        Without Redis nothing can be counted: the attempt is refused (503) rather than let
        through unlimited, and never surfaces as a 500.
        """
        key = f"{self.key_prefix}ratelimit:{bucket}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                # NX: only the first hit of a window sets its expiry, so the window is fixed.
                pipe.expire(key, self.window_seconds, nx=True)
                pipe.ttl(key)
                count, _, ttl = await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailableError(
                "The rate limiter is unavailable; try again later."
            ) from exc
        if int(count) > self.limit:
            raise RateLimitedError(
                "Too many attempts; try again later.", retry_after=max(int(ttl), 1)
            )
