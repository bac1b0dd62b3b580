"""A private PgBouncer for the full layer and the benchmarks, configured like the one the
generated compose.test.yaml runs: session mode, `DISCARD ALL` between clients.

It runs from Debian's `pgbouncer` package (`.ci/run` installs it) on a free port, in front
of the machine's PostgreSQL, and is stopped afterwards: the shared servers are never
touched. PgBouncer refuses to run as root, so as root it drops to the `postgres` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
START_TIMEOUT_SECONDS = 10.0
RUN_AS = "postgres"  # when started as root

CONFIG = """\
[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/userlist.txt
pool_mode = session
server_reset_query = DISCARD ALL
max_client_conn = 500
default_pool_size = 40
logfile = {workdir}/pgbouncer.log
pidfile = {workdir}/pgbouncer.pid
"""


class PgBouncerError(RuntimeError):
    """PgBouncer is missing or did not start; the message says why."""


@dataclass(frozen=True)
class PgBouncer:
    address: str  # host:port, the generated suite's TEST_DATABASE_POOLER
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Kill it at once, as a crash would (SIGKILL)."""
        self.process.kill()
        self.process.wait()

    def logins(self) -> int:
        """How many client connections it has taken so far."""
        return self.log.read_text().count("login attempt")


def binary() -> str:
    found = shutil.which("pgbouncer", path=SEARCH_PATH)
    if found is None:
        raise PgBouncerError(
            "pgbouncer is not installed: `apt-get install pgbouncer` (.ci/run installs it)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def running(server_host: str = "127.0.0.1", server_port: int = 5432) -> Iterator[PgBouncer]:
    """Start a PgBouncer in front of the server, for the duration of the block."""
    command = [binary()]
    workdir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = _free_port()
    config = workdir / "pgbouncer.ini"
    config.write_text(
        CONFIG.format(server_host=server_host, server_port=server_port, port=port, workdir=workdir)
    )
    (workdir / "userlist.txt").write_text(f'"{RUN_AS}" ""\n')
    if os.geteuid() == 0:
        shutil.chown(workdir, RUN_AS)
        for path in workdir.iterdir():
            shutil.chown(path, RUN_AS)
        command += ["-u", RUN_AS]
    log = workdir / "pgbouncer.log"
    process = subprocess.Popen(
        [*command, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                said = log.read_text() if log.exists() else "(no log)"
                raise PgBouncerError(f"pgbouncer did not start on port {port}:\n{said}")
            time.sleep(0.05)
        yield PgBouncer(f"127.0.0.1:{port}", log, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
