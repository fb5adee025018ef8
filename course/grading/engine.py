"""Run grading tasks on a Dask cluster: the embedded ``LocalCluster`` or an existing one.

``cluster(scheduler, workers)`` yields ``connect()``, which gives a ``distributed.Client``:
with ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) one joining a cluster started
by ``dask scheduler`` and ``dask worker`` (or dask-jobqueue, Kubernetes...); without, one on a
``LocalCluster`` of one single-threaded worker process per core, started in the background.

``grade(client, bundles, requests)`` sends each ``Bundle`` (one per assignment and language) once
to every worker
and submits one task per submission (``worker.grade``); it yields (request, outcome)
as tasks finish, with a progress bar (count, rate, time left). A worker that dies mid-task
costs nothing: the scheduler runs its tasks again elsewhere. A task whose workers died
``allowed-failures`` + 1 times (the scheduler's setting, default 3; 2 in the local cluster)
ends with ``KilledWorker`` and gets an outcome saying so instead of being retried forever.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from course.grading import worker
from course.grading.worker import Bundle, Ending, Outcome, Request
from course.trusted import reference_process

LOCAL_ALLOWED_FAILURES = 2  # worker deaths a task may cause in the local cluster, then failed


# This process's environment when its first local cluster started multiprocessing's fork
# server: what the worker processes of every later cluster inherit, before _worker_environment.
_forked_environment: dict[str, str] | None = None


def _worker_environment(env: dict[str, str]) -> dict[str, str]:
    """The environment a local cluster's workers are given: this process's as it is now, and
    ``env``. They are forked from a process that has the environment of this process's first
    local cluster, so every variable is given again, and those removed since are named for the
    workers to remove (``worker.UNSET_ENV``): the workers see what spawned ones would."""
    global _forked_environment
    if _forked_environment is None:
        _forked_environment = dict(os.environ)
    removed = sorted(set(_forked_environment) - set(os.environ))
    return {**os.environ, **env, worker.UNSET_ENV: json.dumps(removed)}


def _local_cluster(workers: int | None, env: dict[str, str], preload: list[str]):
    """A LocalCluster of ``workers`` processes (default: one per core) with this process's
    environment and ``env``, forked from a process that has imported ``preload``
    (multiprocessing's fork server)."""
    import dask
    from distributed import LocalCluster
    from distributed.utils import get_mp_context

    # One task at a time per worker (the default saturation queues a second one on it, which
    # a worker's death would count against as well). The worker processes are forked from
    # multiprocessing's fork server, which imports nbgrader and the assignments' libraries once
    # for all of them (the first cluster of this process decides what it imports).
    with dask.config.set({"distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES,
                          "distributed.scheduler.worker-saturation": 1.0,
                          "distributed.worker.multiprocessing-method": "forkserver"}):
        get_mp_context().set_forkserver_preload(preload)
        return LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                            processes=True, dashboard_address=None,
                            silence_logs=logging.ERROR, preload=[worker.__name__],
                            env=_worker_environment(env))


@contextlib.contextmanager
def cluster(scheduler: str | None = None, workers: int | None = None,
            notebooks: list[Path] = ()):
    """Yield ``connect()``, which returns a ``distributed.Client`` on the cluster at
    ``scheduler`` or on a new local one of ``workers`` processes (default: one per core).

    A local cluster starts in the background as soon as this is entered (its workers are
    forked from a process that imports nbgrader and the libraries of the source ``notebooks``
    to be graded, meanwhile, and one fork server for all of them, started here, imports the
    kernels' libraries at the same time), so the caller can prepare its tasks while it
    starts; everything is closed on exit."""
    from distributed import Client

    shared = None if scheduler else worker.local_fork_server(notebooks)
    reference_process.use_server(shared)  # it computes the reference answers too
    starter = ThreadPoolExecutor(1)
    local = None if scheduler else starter.submit(_local_cluster, workers, {
        worker.NOTEBOOKS_ENV: os.pathsep.join(str(path) for path in notebooks),
        worker.SHARED_SERVER_ENV: shared.description()}, worker.preload(notebooks))
    starter.shutdown(wait=False)
    client = None

    def connect():
        nonlocal client
        if client is None:
            client = Client(scheduler or local.result(), timeout="30s")
        return client

    try:
        yield connect
    finally:
        if client is not None:
            client.close()
        if local is not None:
            local.result().close()
        if shared is not None:
            reference_process.use_server(None)
            shared.stop()


def _bundle(bundle: Bundle) -> Bundle:
    """The task whose result is ``bundle``, on the worker that runs it."""
    return bundle


def _task_failed(error: BaseException) -> Outcome:
    """The outcome of a task that ended with an exception instead of an outcome."""
    from distributed import KilledWorker

    if isinstance(error, KilledWorker):
        return Outcome(Ending.WORKERS_DIED, "not graded: the grading workers died while "
                       "grading it, every time it was tried (Dask KilledWorker)", seconds=None,
                       cpu_seconds=None)
    return Outcome(Ending.TASK_FAILED, "not graded: the grading task failed: "
                   f"{type(error).__name__}: {str(error)[:160]}", seconds=None, cpu_seconds=None)


def grade(client, bundles: dict[str, Bundle], requests: list[tuple[str, Request]],
          progress: bool = True) -> Iterator[tuple[str, Request, Outcome]]:
    """Grade ``requests`` [(bundle name, request)] on the cluster; yield (bundle name,
    request, outcome) as each finishes."""
    from distributed import as_completed
    from tqdm import tqdm

    if not requests:
        return
    # Each bundle is a task's result, not scattered data: when every worker holding it dies,
    # the scheduler makes it again from the task (scattered data would be lost, and with it
    # every task of the assignment still to run).
    sent = {a: client.submit(_bundle, bundle, key=f"bundle-{a}-{os.urandom(4).hex()}")
            for a, bundle in bundles.items()}
    futures = {client.submit(worker.grade, sent[a], request, pure=False,
                             key=f"grade-{a}-{request.student}-{os.urandom(4).hex()}"):
               (a, request) for a, request in requests}
    with tqdm(total=len(futures), desc="grading", unit="submission", disable=not progress,
              smoothing=0.1) as bar:
        for future in as_completed(futures):
            a, request = futures[future]
            try:
                outcome = future.result()
            except Exception as error:  # noqa: BLE001 (that task's failure, e.g. KilledWorker)
                outcome = _task_failed(error)
            future.release()
            bar.update()
            yield a, request, outcome
