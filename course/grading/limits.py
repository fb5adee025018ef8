"""The limits of one submission's grading: the one place their defaults live.

``grade-class`` takes them from its command line (whose defaults are these), the worker turns
them into nbgrader's cell timeout and the sandbox's ``Settings``, and the sandbox enforces them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-submission limits: seconds per cell and per notebook, memory and disk in MiB (all of
    the submission's processes together), the number of its processes and threads, the output
    its processes may write outside the notebook, the threads of its numerical libraries and the
    CPU time of its processes."""

    cell_timeout: int = 120
    notebook_timeout: int = 900
    memory_mb: int = 6144  # also the address space of each process
    disk_mb: int = 1024  # its working folder, /tmp, /dev/shm and socket folder together
    max_processes: int = 512
    output_mb: int = 16  # stdout and stderr of its processes (not the notebook's outputs)
    threads: int = 1  # of the kernel's numerical libraries (a worker per core: one each)
    # cores' worth of CPU time all its processes together may use (a worker per core: one
    # each), so that a kernel's busy threads cannot starve another submission's kernel
    cpus: int = 1
