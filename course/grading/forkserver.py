"""A fork server for sandboxed kernels: TensorFlow and the kernel's libraries are imported once
per grading worker, not once per submission.

Starting a kernel costs a new Python, ipykernel's imports and then the notebook's own imports:
TensorFlow alone takes seconds of CPU, the same for every submission, and as much as the graded
functions of most assignments. The worker starts one fork server (``ForkServer``) with exactly the
environment its kernels get; the server imports ``PRELOAD`` and the libraries of ``LIBRARIES`` that
the assignment's imports cell imports (``libraries_used``), and waits. The kernelspec then starts
``python -m course.grading.forkserver connect ...``, a small client, instead of the sandbox's
supervisor: the client connects, the server forks, and the fork reads the request and the client's
standard streams (the server reads no request: nothing of one stays in the memory that later
kernels are forked from, such as the folder of the submission graded before). The fork runs the
sandbox's supervisor as ``python -m course.grading.sandbox`` would
(``sandbox.run``: the submission's cgroup, namespaces, allowlist root and limits), except that the
sandboxed process runs ``python -m ipykernel_launcher`` in itself instead of starting a new
interpreter: the libraries are already in its memory, copied on write from the server.

What the kernel inherits is a copy of the server's memory and of its supervisor's: the libraries of
``PRELOAD`` (and its ``LIBRARIES``, with the course data their ``warm_up`` loaded: public data
that every kernel would load the same way) and the request (the sandbox's settings file, the
connection file, the command, the working folder and the variables of ``Settings.inherit``; never
the rest of the worker's environment, nor any other kernel's request). The server is a fresh
interpreter (started with ``subprocess``, never forked from the worker, whose memory holds
reference answers) and reads nothing but those libraries and that data; the grader's modules
are removed from ``sys.modules`` before the kernel starts (``sandbox._run_module_here``), and
every file descriptor but the standard streams is closed in the sandbox. The client forwards
SIGINT and SIGTERM to the supervisor; when the client is killed, the supervisor sees its
connection close and ends the sandbox. A request the server cannot serve the same way as a new
interpreter (another environment or Python, another command) runs the usual way, by exec; so
does every request when the server is not there.

The same server forks the grader's reference children (``course.trusted.reference_process``),
which answer a failed helper's stand-ins with the reference solution: they need the same
libraries, and one import of TensorFlow per worker is seconds less before its first kernel. A
reference child gets no sandbox (it runs only the course's code, on plain data) and dies with the
server; it receives the source notebook from the grader after the fork, so neither the server nor
a kernel forked later ever holds it.

Protocol: the client connects to the server's Unix socket and sends one JSON request. A kernel's
(``settings``, ``connection_file``, ``command``, ``cwd``, ``environ``) comes with its file
descriptors 0, 1 and 2 (SCM_RIGHTS); the supervisor answers with its pid, the client with
``GO`` (a client that gave up has closed the connection instead, and nothing starts), and the
supervisor, when the sandbox has ended, with its exit status; each on a line of its own. A
reference child's (``REFERENCE``) comes alone; the child answers with its pid on a line, then
speaks ``reference_process``'s protocol on the connection. So does the request of a child that
computes the reference answers of a grading run for ``grade-class`` (``ANSWERS``:
``reference_process.answers_in_fork``).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# What the server imports before it serves: the kernel's own libraries, and those of
# LIBRARIES (slow to import) that the assignment's notebook imports: a numpy assignment does
# not wait for TensorFlow. pyplot chooses its backend when a kernel first draws (TensorFlow
# imports it too).
PRELOAD = ("numpy", "zmq", "IPython", "ipykernel.ipkernel", "ipykernel.kernelapp", "utils.graded",
           # what ipykernel imports as a kernel starts (its debugger's debugpy: 0.15 s a kernel)
           "ipykernel.debugger", "IPython.core.completerlib", "IPython.extensions.storemagic",
           "sqlite3",
           # what a reference child needs besides
           "course.trusted.reference_solution", "course.trusted.helper_calls")
LIBRARIES = ("scipy", "h5py", "PIL.Image", "matplotlib.pyplot", "tensorflow", "keras",
             # the course's helpers whose data every kernel loads the same way: the server
             # calls their warm_up() after the imports (the SIGNS photographs, decoded once)
             "utils.signs")
HELPERS = Path(__file__).resolve().parents[2] / "utils"  # the course's helper package
FOLDER_PREFIX = "cnn-forkserver-"  # a server's folder: FOLDER_PREFIX, its starter's pid, "-"...
MAX_REQUEST = 1 << 16  # bytes of one request
STARTUP_S = 30  # how long the worker waits for a new server to listen
# how long a client (a kernel's, or a reference child's) waits for its fork (a new server
# imports for ~10 s)
ANSWER_S = 30
GO = b"go\n"  # the client's word that it still waits: only then does the supervisor start
REFERENCE = {"reference": True}  # the request of a reference child
ANSWERS = {"answers": True}  # the request of a child that computes a run's reference answers


class ForkServer:
    """The worker's side: one fork server process, started with ``env`` (the environment of the
    kernels it will serve), which dies with the process that started it (the worker, or the
    ``grade-class`` process for the workers of its local cluster: ``SharedForkServer``)."""

    def __init__(self, env: dict[str, str], libraries: tuple[str, ...] = ()):
        self.env = dict(env)
        self.libraries = libraries  # of LIBRARIES, imported besides PRELOAD
        _remove_stale_folders()
        # mode 0700; named by this process, with which the server dies
        self.folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        self.socket = self.folder / "socket"
        self.process = self._start()
        atexit.register(self.stop)  # reaped by its worker: its CPU time is counted there

    def _start(self) -> subprocess.Popen:
        """Start the server and wait until it listens (it imports its libraries after that:
        the first requests wait in its queue)."""
        from course.grading import sandbox

        env = {**self.env, "HOME": str(self.folder)}  # where Keras writes its config at import
        with open(self.folder / "server.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "course.grading.forkserver", "serve", str(self.socket),
                 *self.libraries],
                env=env, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=log, preexec_fn=functools.partial(sandbox.die_with, os.getpid()))
        deadline = time.monotonic() + STARTUP_S
        while not self.socket.exists() and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        return process  # a server that did not come up: the clients start kernels by exec

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def description(self) -> str:
        """What another process needs to use this server (``SharedForkServer``), as JSON."""
        return json.dumps({"socket": str(self.socket), "pid": self.process.pid,
                           "env": self.env, "libraries": list(self.libraries)})


class SharedForkServer:
    """A fork server that another process started (``ForkServer.description``) and that this
    one uses while it lives: it is never stopped here."""

    def __init__(self, description: str):
        fields = json.loads(description)
        self.socket, self.env = Path(fields["socket"]), fields["env"]
        self.libraries = tuple(fields["libraries"])
        try:  # a pidfd: another process that takes the number later is never taken for it
            self._pidfd: int | None = os.pidfd_open(fields["pid"])
        except OSError:
            self._pidfd = None

    def alive(self) -> bool:
        import select

        return self._pidfd is not None and not select.select([self._pidfd], [], [], 0)[0]

    def stop(self) -> None:
        """Stop using it (the process that started it stops it)."""
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


def _remove_stale_folders() -> None:
    """Remove the folders of fork servers whose starting process has ended: their server died
    with it, and a killed one could not remove its folder (another user's folders cannot be
    removed, and are left alone)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        starter = folder.name.removeprefix(FOLDER_PREFIX).split("-")[0]
        if not starter.isdigit():
            continue
        try:
            os.kill(int(starter), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # another user's process has that number now
            pass


def serving(server, env: dict[str, str], libraries: tuple[str, ...]):
    """``server`` (a ForkServer or SharedForkServer, or None) when it is alive, has the
    environment ``env`` and has imported ``libraries``; else a new ForkServer, which imports
    those the old one had too (the old one is stopped)."""
    if server is not None and (not server.alive() or server.env != env
                               or not set(libraries) <= set(server.libraries)):
        libraries = tuple(dict.fromkeys((*server.libraries, *libraries)))
        server.stop()
        server = None
    return server if server is not None else ForkServer(env, libraries)


# --- the server -----------------------------------------------------------------------------

def imported_modules(imports_cell: str) -> list[str]:
    """The modules a source notebook's imports cell (its code: the course's own) imports, read
    from its code (a name imported from a package may be a module of it)."""
    from course.trusted.cases import without_magics

    return _top_level_imports(without_magics(imports_cell))


def libraries_used(imports_cell: str) -> tuple[str, ...]:
    """The libraries of ``LIBRARIES`` that a source notebook's imports cell imports, itself or
    through the course's helpers (``utils``, followed module by module), where their code runs
    on import (not inside a function): read from the code, nothing is imported. What those
    libraries import in turn comes with them."""
    names, todo, seen = set(), imported_modules(imports_cell), set()
    while todo:
        name = todo.pop()
        names.add(name)
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # a module's packages run their __init__
            path = _helper_file(parts[:depth])
            if path is not None and path not in seen:
                seen.add(path)
                todo += _top_level_imports(path.read_text())
    return tuple(library for library in LIBRARIES
                 if any(n == library or n.startswith(library + ".") for n in names))


def _top_level_imports(code: str) -> list[str]:
    """The absolute imports of ``code`` that run when it runs: not those inside a function."""
    import ast

    names, todo = [], list(ast.parse(code).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.module and not node.level:
                names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo += [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
    return names


def _helper_file(parts: list[str]) -> Path | None:
    """The file of the course's helper module ``".".join(parts)`` (under ``utils``), or None
    when it is not one."""
    if parts[0] != HELPERS.name:
        return None
    base = HELPERS.parent.joinpath(*parts)
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def serve(path: str, libraries: list[str]) -> None:
    """Listen on ``path``, import ``PRELOAD`` and ``libraries``, then fork for each
    connection (``_serve_connection``)."""
    import importlib

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)  # requests wait here while the libraries are imported
    started = dict(os.environ)
    for module in (*PRELOAD, *libraries):
        importlib.import_module(module)
    for module in libraries:  # the course's helpers only: a library's warm_up is not ours
        if module.startswith(f"{HELPERS.name}."):
            getattr(sys.modules[module], "warm_up", lambda: None)()
    imported = {k: v for k, v in os.environ.items() if started.get(k) != v}
    if len(os.listdir("/proc/self/task")) > 1:
        sys.exit("the preloaded libraries started threads: forking would be unsafe")
    server = os.getpid()
    listener.settimeout(1.0)
    while True:
        reap()
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        if os.fork() == 0:
            listener.close()
            _serve_connection(connection, server, started, imported)  # never returns
        connection.close()


def _serve_connection(connection: socket.socket, server: int, started: dict[str, str],
                      imported: dict[str, str]) -> None:
    """In the fork: read the connection's request here, not in the server (nothing of it
    stays in the memory later kernels are forked from, such as the folder of the submission
    graded before, and a slow client holds up no other), then become what it asks for: a
    reference child or a kernel's supervisor. Never returns."""
    try:
        request, fds = _receive(connection)
    except (OSError, ValueError) as error:
        print(f"forkserver: bad request: {error}", file=sys.stderr, flush=True)
        os._exit(0)
    if request in (REFERENCE, ANSWERS):
        _reference_child(connection, server, request)
    _supervise(connection, request, fds, started, imported)


def reap() -> None:
    """Collect the children (supervisors) that have ended."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _receive(connection: socket.socket) -> tuple[dict, list[int]]:
    """One request and its file descriptors: three for a kernel, none for a reference child."""
    connection.settimeout(10)
    message, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, 3)
    try:
        request = json.loads(message)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
        request = None
    kernel = isinstance(request, dict) and set(request) == {
        "settings", "connection_file", "command", "cwd", "environ"}
    if len(fds) != (3 if kernel else 0) or not (kernel or request in (REFERENCE, ANSWERS)):
        for fd in fds:
            os.close(fd)
        raise ValueError(f"not a request ({len(fds)} file descriptors)")
    return request, fds


def _reference_child(connection: socket.socket, server: int, request: dict) -> None:
    """In the fork: a reference child on the connection (``reference_process.serve_child``;
    for ``ANSWERS``, ``reference_process.serve_answers``), which dies with the server; exit
    when it is done."""
    from course.grading import sandbox
    from course.trusted import reference_process

    try:
        sandbox.die_with(server)
        connection.settimeout(None)
        (reference_process.serve_answers if request == ANSWERS
         else reference_process.serve_child)(connection)
    finally:
        os._exit(0)


def _supervise(connection: socket.socket, request: dict, fds: list[int],
               server_env: dict[str, str], imported: dict[str, str]) -> None:
    """In the fork: become the sandbox's supervisor for the client's request; tell the client
    this process's pid, then the sandbox's exit status; exit. ``server_env``: the server's
    environment before it imported ``PRELOAD``; ``imported``: the variables those imports set."""
    from course.grading import sandbox

    code = 126
    try:
        # no death signal from the server: the sandbox lives as long as its client (``watch``),
        # so a server that dies (killed, out of memory) takes no running kernel with it
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        connection.settimeout(None)
        connection.sendall(f"{os.getpid()}\n".encode())
        if _read_exactly(connection, len(GO)) != GO:  # the client gave up: start nothing
            os._exit(0)
        settings = sandbox.Settings.read(request["settings"])
        code = sandbox.run(settings, request["command"], request["connection_file"],
                           request["settings"], outside=request["environ"],
                           in_process=(imported if _served_here(settings, request, server_env)
                                       else None),
                           watch=connection.fileno())
    except sandbox.SandboxError as error:
        print(f"sandbox: {error}", file=sys.stderr, flush=True)
    except BaseException:  # noqa: BLE001 (any failure: tell the client, end the fork)
        import traceback

        traceback.print_exc()
    try:
        connection.sendall(f"{code}\n".encode())
    except OSError:
        pass
    os._exit(0)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    """``size`` bytes, or fewer when the connection ends first."""
    data = b""
    while len(data) < size and (chunk := connection.recv(size - len(data))):
        data += chunk
    return data


def _served_here(settings, request: dict, server_env: dict[str, str]) -> bool:
    """Whether the sandboxed process may run the command in the memory of this server (whose
    environment is ``server_env``): the command is ``python -m ipykernel_launcher`` of this
    Python, and the kernel's environment is the server's, but for the variables set for each
    kernel (its folders, nbgrader's mode), which the preloaded libraries do not read."""
    from course.grading import sandbox

    if request["command"][:3] != [sys.executable, "-m", "ipykernel_launcher"]:
        return False
    wanted = sandbox.environment(settings, request["cwd"], request["environ"])
    own = {*sandbox.PER_KERNEL_VARIABLES, *settings.inherit}
    return all(wanted.get(k) == server_env.get(k) for k in {*wanted, *server_env} - own)


# --- the client -----------------------------------------------------------------------------

def connect(args: list[str]) -> None:
    """The kernelspec's command: ``--socket PATH`` then the sandbox's own arguments. Runs the
    sandbox through the server; without a server, or when the server does not start a
    supervisor within ``ANSWER_S`` seconds (hung, or still importing), runs it here
    (``sandbox.main``)."""
    from course.grading import sandbox

    if args[:1] != ["--socket"] or "--" not in args or "--settings" not in args:
        sys.exit(f"usage: python -m course.grading.forkserver connect --socket PATH "
                 f"{sandbox.USAGE}")
    path, rest = args[1], args[2:]
    options, command = rest[:rest.index("--")], rest[rest.index("--") + 1:]
    sandbox.die_with_kernel_manager(options)  # the kernel manager's process: the worker
    settings = os.path.abspath(sandbox.option(options, "--settings"))
    connection_file = sandbox.option(options, "--connection-file")
    inherit = json.loads(Path(settings).read_text()).get("inherit", [])
    request = {"settings": settings,
               "connection_file": os.path.abspath(connection_file) if connection_file else None,
               "command": command, "cwd": os.getcwd(),
               # only what the sandbox passes on: the rest of this environment (the grader's)
               # would be in the memory the kernel is forked from
               "environ": {k: os.environ[k] for k in inherit if k in os.environ}}
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(ANSWER_S)
    try:
        client.connect(path)
        socket.send_fds(client, [json.dumps(request).encode()], [0, 1, 2])
        replies = client.makefile("rb")
        line = replies.readline()
        if not line.strip().isdigit():
            raise OSError("no supervisor")
        client.sendall(GO)
    except OSError:  # no server, or no answer in time (TimeoutError): the usual way
        client.close()  # a supervisor started after this sees its client gone and ends
        sandbox.main(rest)
        return
    client.settimeout(None)
    supervisor = int(line)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _: _forward(supervisor, number))
    line = replies.readline()
    code = int(line) if line.strip().lstrip(b"-").isdigit() else 1
    sys.exit(code if code >= 0 else 128 - code)


def _forward(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], sys.argv[3:])
    elif sys.argv[1:2] == ["connect"]:
        connect(sys.argv[2:])
    else:
        sys.exit("usage: python -m course.grading.forkserver serve PATH | connect ...")
