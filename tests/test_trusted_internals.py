"""The grader's execution step (``course/trusted/executor.py``) and its check of the cells'
metadata (``course/trusted/cell_metadata.py``) build on internals of nbclient, nbconvert,
nbgrader and jupyter_client: they override some of their methods, copy the body of some and
call private ones. An upgrade that changes any of them must be reviewed against the
grader, so each one's source is compared here with the hash of the version the grader was
written for; a change fails naming the method and what to review.

After reviewing, store the new hash printed by the failure in ``REVIEWED``.
"""

import hashlib
import inspect
from importlib import import_module
from importlib.metadata import version

import pytest
from nbgrader.converters import Autograde
from traitlets.config.loader import PyFileConfigLoader

from course.assignments import COURSE_ROOT
from course.trusted.cell_metadata import CheckCellMetadata
from course.trusted.executor import TrustedExecute

# (object, how the grader depends on it): the first 16 digits of its source's sha256.
REVIEWED = {
    ("nbconvert.preprocessors.execute:ExecutePreprocessor.preprocess",
     "copied by TrustedExecute.preprocess and TrustedExecute._run"): "58beeaafc496ae5f",
    ("nbconvert.preprocessors.execute:ExecutePreprocessor._check_assign_resources",
     "called by TrustedExecute.preprocess"): "63d0e47180730b5f",
    ("nbgrader.preprocessors.execute:Execute",
     "the base class of TrustedExecute (its traits and on_cell_executed hook)"): "64be1a876a23cd92",
    ("nbclient.client:NotebookClient.__init__",
     "called by TrustedExecute.preprocess, as nbconvert does"): "8d367edb1a62b4c2",
    ("nbclient.client:NotebookClient.reset_execution_trackers",
     "called by TrustedExecute.preprocess"): "235642992dcea73f",
    ("nbclient.client:NotebookClient.async_setup_kernel",
     "used by TrustedExecute._run; calls the overridden _async_cleanup_kernel"): "189461fd8c55187b",
    ("nbclient.client:NotebookClient._async_cleanup_kernel",
     "overridden by TrustedExecute._async_cleanup_kernel"): "fdb0dbbcbcd8662d",
    ("nbclient.client:NotebookClient.create_kernel_manager",
     "overridden by TrustedExecute.create_kernel_manager"): "c0b4f010acbcb8f5",
    ("nbclient.client:NotebookClient.process_message",
     "overridden by TrustedExecute.process_message"): "e345991e03a03272",
    ("nbclient.client:NotebookClient._async_poll_output_msg",
     "calls the overridden process_message for each output message"): "1619965a18581fa3",
    ("nbclient.client:NotebookClient._get_timeout",
     "called by TrustedExecute._async_converse"): "5bfb5a2910e7910e",
    ("nbgrader.preprocessors.checkcellmetadata:CheckCellMetadata.preprocess",
     "copied by cell_metadata.CheckCellMetadata.preprocess"): "f8dfe8c496d03e52",
    ("nbgrader.nbgraderformat.common:BaseMetadataValidator.validate_cell",
     "copied by cell_metadata._SchemaCheckedOnce.validate_cell"): "e5f97f45a9aba510",
    ("jupyter_client.client:KernelClient.connect_iopub",
     "overridden by BoundedKernelClient.connect_iopub"): "fe58e449eae86688",
    ("jupyter_client.client:KernelClient.connect_shell",
     "overridden by BoundedKernelClient.connect_shell"): "f0bea403b75b4e96",
    ("jupyter_client.client:KernelClient.connect_stdin",
     "overridden by BoundedKernelClient.connect_stdin"): "e94c089f870a64c1",
}


def _resolve(name: str):
    module, _, path = name.partition(":")
    target = import_module(module)
    for part in path.split("."):
        target = getattr(target, part)
    return target


def source_hash(name: str) -> str:
    return hashlib.sha256(inspect.getsource(_resolve(name)).encode()).hexdigest()[:16]


@pytest.mark.parametrize("name, use", list(REVIEWED), ids=[n for n, _ in REVIEWED])
def test_the_internals_the_grader_builds_on_are_the_reviewed_ones(name, use):
    distribution = name.split(".")[0].replace("_", "-")
    found = source_hash(name)
    assert found == REVIEWED[name, use], (
        f"{name} ({distribution} {version(distribution)}) is not the version the grader was "
        f"reviewed against: it is {use}. Review that in course/trusted/executor.py, then store "
        f"its new hash {found!r} in tests/test_trusted_internals.py")


COURSE_STEPS = {"Execute": TrustedExecute, "CheckCellMetadata": CheckCellMetadata}


@pytest.mark.parametrize("steps", ["sanitize_preprocessors", "autograde_preprocessors"])
def test_autograde_runs_nbgraders_own_steps_with_the_courses_in_place_of_two(steps):
    """nbgrader_config.py lists Autograde's steps again: they must be nbgrader's own, in its
    order, with Execute and CheckCellMetadata replaced by the course's (a step added by an
    nbgrader upgrade would be missed)."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()
    nbgraders = getattr(Autograde(), steps)
    expected = [COURSE_STEPS.get(step.__name__, step) for step in nbgraders]
    assert config.Autograde[steps] == expected, (
        f"nbgrader {version('nbgrader')}'s {steps} are {[s.__name__ for s in nbgraders]}: "
        f"review Autograde.{steps} in source_release/nbgrader_config.py")
