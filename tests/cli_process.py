"""`python -m storyboard ...` as a real process, started in milliseconds instead of half a second.

Every command still runs in a process of its own, with its own working folder, environment,
arguments, stdin, stdout, stderr and exit status, as `subprocess.run` gives them. What is saved is
the interpreter's start and the import of what lies below the CLI (pydantic, typer, rich, lark,
jinja2, httpx and the stages): a zygote process imports those once per test worker, then forks
one child per command. The child sets its folder, environment and arguments, then runs
`storyboard/__main__.py` with runpy as `-m` does; the CLI package itself (whose consoles read
COLUMNS and NO_COLOR when they are made) is imported there, after the environment is set.

Two things a fork shares that fresh processes do not, and what is done about them:
- the hash seed: a test that compares two runs for determinism passes `fresh=True`;
- what the interpreter reads when it starts (PYTHON* variables, the locale): a command whose
  environment changes any of them is started fresh.

Run as a script, this file is the zygote.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

PRELOAD = ("pydantic", "typer", "click", "rich.console", "rich.table", "rich.progress", "lark", "jinja2", "httpx",
           "storyboard.api", "storyboard.render.run")
_STATUS = struct.Struct("!qi")  # (pid, wait status) from the zygote; a status of -1 is "started"
_READ_AT_START = ("LANG", "LC_ALL", "LC_CTYPE")  # besides every PYTHON* variable


def storyboard(*args: str | os.PathLike, cwd: str | os.PathLike | None = None, env: dict[str, str] | None = None,
               input: str | bytes | None = None, timeout: float = 120, text: bool = True,  # noqa: A002 (subprocess's name)
               fresh: bool = False) -> subprocess.CompletedProcess:
    """Run `python -m storyboard *args` in a process of its own and return what it did."""
    argv = [str(a) for a in args]
    env = dict(os.environ if env is None else env)
    if fresh or _starts_differently(env):
        return subprocess.run([sys.executable, "-m", "storyboard", *argv], cwd=cwd, env=env, input=input,
                              capture_output=True, text=text, encoding="utf-8" if text else None, timeout=timeout)
    stdin = input.encode() if isinstance(input, str) else input
    returncode, out, err = _ZYGOTE.run(argv, str(Path(cwd or os.getcwd()).resolve()), env, stdin, timeout)
    if text:
        out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    return subprocess.CompletedProcess([sys.executable, "-m", "storyboard", *argv], returncode, out, err)


def _starts_differently(env: dict[str, str]) -> bool:
    """Whether this environment changes what an interpreter decides before running any code."""
    keys = {k for k in {*env, *os.environ} if k.startswith("PYTHON") or k in _READ_AT_START}
    return any(env.get(k) != os.environ.get(k) for k in keys)


class _Zygote:
    """The parent's side: one zygote per test process, started on first use, gone with it."""

    def __init__(self):
        self.sock: socket.socket | None = None
        self.lock = threading.Lock()

    def _started(self) -> socket.socket:
        if self.sock is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            subprocess.Popen([sys.executable, __file__, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            theirs.close()
            self.sock = ours
        return self.sock

    def run(self, argv: list[str], cwd: str, env: dict[str, str], stdin: bytes | None,
            timeout: float) -> tuple[int, bytes, bytes]:
        with self.lock:
            try:
                return self._run(argv, cwd, env, stdin, timeout)
            except BaseException:
                self.forget()
                raise

    def _run(self, argv: list[str], cwd: str, env: dict[str, str], stdin: bytes | None,
             timeout: float) -> tuple[int, bytes, bytes]:
        sock = self._started()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if stdin is not None else (os.open(os.devnull, os.O_RDONLY), None)
        request = json.dumps({"argv": argv, "cwd": cwd, "env": env}).encode()
        socket.send_fds(sock, [request], [in_r, out_w, err_w])
        for fd in (in_r, out_w, err_w):
            os.close(fd)
        pid = self._answer(sock, timeout)[0]
        if in_w is not None:
            threading.Thread(target=_feed, args=(in_w, stdin), daemon=True).start()
        deadline = time.monotonic() + timeout
        try:
            out, err = _read_both(out_r, err_r, deadline)
            status = self._answer(sock, max(deadline - time.monotonic(), 0.1))[1]
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            self._answer(sock, 10)
            raise subprocess.TimeoutExpired([sys.executable, "-m", "storyboard", *argv], timeout) from None
        return os.waitstatus_to_exitcode(status), out, err

    @staticmethod
    def _answer(sock: socket.socket, timeout: float) -> tuple[int, int]:
        sock.settimeout(timeout)
        data = sock.recv(_STATUS.size)  # TimeoutError past the timeout
        if not data:
            raise RuntimeError("the storyboard zygote died (its error is on stderr)")
        return _STATUS.unpack(data)

    def forget(self) -> None:
        """After a failure: the next command starts a new zygote."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def _feed(fd: int, data: bytes) -> None:
    try:
        with open(fd, "wb") as pipe:
            pipe.write(data)
    except BrokenPipeError:  # the command did not read it all, as subprocess.run allows
        pass


def _read_both(out_r: int, err_r: int, deadline: float) -> tuple[bytes, bytes]:
    """Both pipes to their end (a command may fill one while the other waits)."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        try:
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                for key, _ in sel.select(left):
                    data = os.read(key.fd, 1 << 16)
                    if data:
                        chunks[key.fd].append(data)
                    else:
                        sel.unregister(key.fd)
        finally:
            os.close(out_r)
            os.close(err_r)
    return b"".join(chunks[out_r]), b"".join(chunks[err_r])


_ZYGOTE = _Zygote()


# ---- the zygote ---------------------------------------------------------------------------------

def _zygote(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    for module in PRELOAD:
        __import__(module)
    while True:
        try:
            request, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
        except ConnectionResetError:
            return
        if not request:
            return  # the tests are over
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            sock.close()
            _child(json.loads(request), fds)
        for received in fds:
            os.close(received)
        try:
            sock.send(_STATUS.pack(pid, -1))
            sock.send(_STATUS.pack(pid, os.waitpid(pid, 0)[1]))
        except OSError:  # the test process is gone
            return


def _child(request: dict, fds: list[int]) -> None:
    """Become `python -m storyboard ...` in the request's folder and environment; never return."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]  # as `-m` puts the working folder first
    sys.argv = ["-m", *request["argv"]]
    code = 0
    try:
        runpy.run_module("storyboard", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # what the interpreter does with an uncaught exception
        traceback.print_exc()
        code = 1
    threading._shutdown()  # noqa: SLF001 (the interpreter's own exit: wait for non-daemon threads)
    atexit._run_exitfuncs()  # noqa: SLF001
    for stream in (sys.stdout, sys.stderr):
        if stream is None or stream.closed:  # the interpreter skips those too
            continue
        try:
            stream.flush()
        except OSError:
            code = code or 120  # as the interpreter exits when it cannot flush stdout
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    _zygote(int(sys.argv[1]))
