"""nbgrader configuration of the course (run nbgrader from this folder).

source/<assignment>/   notebooks with solutions and hidden tests (the one source of truth)
release/<assignment>/  student version, made by `python -m course release`
"""

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
                                    AssignLatePenalties,
                                    ClearHiddenTests,
                                    ClearMarkScheme,
                                    ClearOutput,
                                    ClearSolutions,
                                    ComputeChecksums,
                                    DeduplicateIds,
                                    GetGrades,
                                    IgnorePattern,
                                    IncludeHeaderFooter,
                                    InstantiateTests,
                                    LimitOutput,
                                    LockCells,
                                    OverwriteCells,
                                    OverwriteKernelspec,
                                    SaveAutoGrades,
                                    SaveCells,
)

from course.trusted.cell_metadata import CheckCellMetadata
from course.trusted.executor import TrustedExecute
from course.trusted.feedback import FeedbackExporter

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "cnn-course"

# The student's code goes between START and END CODE HERE, in place of the raise.
c.ClearSolutions.code_stub = {
    "python": "### START CODE HERE ###\n"
              "raise NotImplementedError(\"Replace this line with your code.\")\n"
              "### END CODE HERE ###"
}

# Hidden tests never reach a student's kernel: they are removed before the test cells are
# saved in the gradebook, so autograde restores the public tests only. The grader reads the
# hidden cases from source/ itself (course/trusted/cases.py).
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter, InstantiateTests, LockCells, ClearSolutions, ClearOutput,
    ClearHiddenTests, ClearMarkScheme, CheckCellMetadata, ComputeChecksums, SaveCells,
    CheckCellMetadata,
]

# nbgrader's steps, with its check of the cells' grading metadata compiled once per process
# (course/trusted/cell_metadata.py).
c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata,
]

# Scores are decided outside the student's kernel: TrustedExecute runs the notebook, sends
# each graded function's test cases in as data, compares the answers with the reference
# solution's in nbgrader's process and writes the verdict as the test cell's output
# (course/trusted/executor.py).
c.Autograde.autograde_preprocessors = [
    TrustedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]

# Training cells run longer than nbgrader's default of 30 s per cell; a runaway cell still stops.
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True

# TensorFlow's informational stderr lines are noise in the students' feedback.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (r"(?m)^(I0000|W0000|E0000|WARNING: All log messages before absl"
                           r"|.*oneDNN custom operations|.*cpu_feature_guard|.*TF-TRT Warning"
                           r"|.*computation_placer|.*cuda_(dnn|fft|blas|executor))")

# Student notebooks must not bring large files into the gradebook's folders.
c.CourseDirectory.max_file_size = 100000

c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor]
# The feedback pages' templates are compiled once per grading worker, not once per submission.
c.GenerateFeedback.exporter_class = FeedbackExporter
