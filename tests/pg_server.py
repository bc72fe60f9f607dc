"""A throw-away PostgreSQL server for the Postgres checkpointer test (test code, not product).

Uses Debian's server binaries (``apt-get install postgresql``; .ci/run installs them). The
cluster lives in a temporary directory, listens on 127.0.0.1 on a free port with trust auth,
and is stopped and deleted afterwards. As root, it runs as the ``postgres`` system user,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager


def find_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server():
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise FileNotFoundError("PostgreSQL server binaries not found (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = tempfile.mkdtemp(prefix="sk-pg-")
    data = os.path.join(base, "data")
    if as_root:
        shutil.chown(base, "postgres")
        os.chmod(base, 0o755)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run(prefix + [initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, env=env)
    log = os.path.join(base, "log")
    opts = f"-h 127.0.0.1 -p {port} -k {base}"
    subprocess.run(prefix + [pg_ctl, "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start"],
                   check=True, capture_output=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        subprocess.run(prefix + [pg_ctl, "-D", data, "-m", "fast", "stop"], capture_output=True, env=env)
        shutil.rmtree(base, ignore_errors=True)
