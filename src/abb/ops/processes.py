"""Starting and stopping the helper servers that `make monitoring` and the test harness run.

A helper server must not outlive what started it: `die_with_parent` (a `preexec_fn`) asks Linux to send the
child SIGTERM when its parent dies, however it dies (SIGKILL included), and `run_when_parent_dies` covers
servers that detach themselves (PostgreSQL's pg_ctl) with a small guard process that stops them instead.
Each such server listens on a loopback port of its own: `free_port`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it), for a helper server to take."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """`preexec_fn` for Popen: this child gets SIGTERM when the thread that started it exits (Linux only)."""
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        return  # not Linux: the caller's own cleanup is all there is
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _guard_preexec() -> None:
    # SIGTERM blocked before the guard's Python starts, so the guard's sigwait cannot miss an early one.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    die_with_parent()


_GUARD = (
    "import signal, subprocess, sys\n"
    "signal.sigwait({signal.SIGTERM})\n"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)\n"
)


def run_when_parent_dies(command: list[str]) -> subprocess.Popen[bytes]:
    """A guard process that runs `command` once this process has died; `dismiss` it after a normal stop."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and a command built by the caller
        [sys.executable, "-c", _GUARD, *command],
        preexec_fn=_guard_preexec,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def dismiss(guard: subprocess.Popen[bytes] | None) -> None:
    """Stop a guard without running its command (SIGKILL: it never sees the SIGTERM it waits for)."""
    if guard is not None and guard.poll() is None:
        guard.kill()
        guard.wait(timeout=10)


def terminate(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `timeout` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
