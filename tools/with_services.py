#!/usr/bin/env python3
"""Run a command with throwaway PostgreSQL and Redis servers.

    python tools/with_services.py -- pytest -q

When DATABASE_URL / REDIS_URL are already set, that server is used as is.
Otherwise a private instance is started in a temporary directory on a free
port and removed afterwards. Missing server binaries are installed with
apt-get when running as root on Debian/Ubuntu; otherwise this says exactly
what to install.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APT_PACKAGES = {"postgres": "postgresql", "redis": "redis-server"}


def log(message: str) -> None:
    print(f"[with_services] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_pg_bin() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def apt_install(package: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    log(f"installing {package} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], env=env)
    return result.returncode == 0


def need(kind: str, found) -> None:
    if found:
        return
    sys.exit(
        f"[with_services] no {kind} server binaries found and they could not be installed.\n"
        f"Install them (Debian/Ubuntu: sudo apt-get install {APT_PACKAGES[kind]}) "
        f"or set {'DATABASE_URL' if kind == 'postgres' else 'REDIS_URL'} to a server you run."
    )


def wait_for_port(port: int, what: str, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"[with_services] {what} exited early with status {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"[with_services] {what} did not start listening on port {port} within {timeout:.0f}s")


class Postgres:
    def __init__(self, root: Path):
        bin_dir = find_pg_bin()
        if bin_dir is None and apt_install(APT_PACKAGES["postgres"]):
            bin_dir = find_pg_bin()
        need("postgres", bin_dir)
        self.bin = bin_dir
        self.root = root / "pg"
        self.data = self.root / "data"
        self.port = free_port()
        # PostgreSQL refuses to run as root: run it as an unprivileged user.
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres" if _user_exists("postgres") else "nobody"

    def _run(self, args: list[str], **kwargs):
        if self.user:
            args = ["runuser", "-u", self.user, "--", *args]
        return subprocess.run(args, **kwargs)

    def start(self) -> str:
        self.root.mkdir(parents=True)
        if self.user:
            shutil.chown(self.root, user=self.user)
            os.chmod(self.root.parent, 0o755)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "mdm", "--auth=trust", "-E", "UTF8",
                   "--locale=C.UTF-8" if _has_c_utf8() else "--locale=C", "-N"],
                  check=True, stdout=subprocess.DEVNULL)
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
                   "-c shared_buffers=256MB")
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                   "-w", "start"], check=True, stdout=subprocess.DEVNULL)
        wait_for_port(self.port, "PostgreSQL")
        self._run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "mdm", "mdm"], check=True)
        log(f"PostgreSQL on port {self.port} ({self.data})")
        return f"postgres://mdm@127.0.0.1:{self.port}/mdm"

    def stop(self) -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Redis:
    def __init__(self, root: Path):
        binary = shutil.which("redis-server")
        if binary is None and apt_install(APT_PACKAGES["redis"]):
            binary = shutil.which("redis-server")
        need("redis", binary)
        self.binary = binary
        self.port = free_port()
        self.dir = root / "redis"
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        self.dir.mkdir(parents=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, "Redis", self.proc)
        log(f"Redis on port {self.port}")
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _has_c_utf8() -> bool:
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower()
    return "c.utf8" in out or "c.utf-8" in out


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        print(__doc__)
        return 2
    root = Path(tempfile.mkdtemp(prefix="mdm-services-"))
    started = []
    env = dict(os.environ)
    try:
        if not env.get("DATABASE_URL"):
            pg = Postgres(root)
            env["DATABASE_URL"] = pg.start()
            started.append(pg)
        if not env.get("REDIS_URL"):
            redis = Redis(root)
            env["REDIS_URL"] = redis.start()
            started.append(redis)
        proc = subprocess.Popen(argv, env=env)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            return proc.wait()
    finally:
        for service in reversed(started):
            service.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
