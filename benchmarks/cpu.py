"""CPU accounting for `benchmarks/run.py`: where the bulk runs' CPU goes.

A serial run already keeps more than one core busy: the pytest process, and the database
server's process for each test's connection. What `-n 2` can add is what is left.
Two numbers show it, each measured in the same run as the timings:
- the CPU seconds of the pytest processes (xdist workers included), from the OS;
- the CPU seconds of a local PostgreSQL server, read from its postmaster's /proc entry,
  which also counts the backends it has reaped (one per test connection).
"""

from __future__ import annotations

import asyncio
import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def children_cpu_seconds() -> float:
    """User + system CPU of every child process this one has waited for, so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class ServerClock:
    """Reads the CPU seconds a local PostgreSQL server has used, its exited backends too."""

    postmaster_pid: int

    def seconds(self) -> float:
        stat = Path(f"/proc/{self.postmaster_pid}/stat").read_text()
        # Fields 14-17: utime, stime, cutime, cstime (after the parenthesised command name).
        fields = stat.rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def local_server_clock(url: Any) -> ServerClock | None:
    """A clock for the server behind `url` (a SQLAlchemy URL), or None when it is not
    readable from here (another machine, a container, no permission)."""
    import asyncpg

    async def data_directory() -> str:
        connection = await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database="postgres",
            ssl=url.query.get("ssl"),
        )
        try:
            return str(await connection.fetchval("SHOW data_directory"))
        finally:
            await connection.close()

    try:
        pid_file = Path(asyncio.run(data_directory())) / "postmaster.pid"
        clock = ServerClock(int(pid_file.read_text().split()[0]))
        clock.seconds()
    except (OSError, ValueError, IndexError, asyncpg.PostgresError):
        return None
    return clock
