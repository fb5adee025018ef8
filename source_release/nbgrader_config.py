"""nbgrader configuration of the course (run nbgrader from this folder).

source/<assignment>/   notebooks with solutions and hidden tests (the one source of truth)
release/<assignment>/  student version, made by `python -m utils.course release`
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "cnn-course"

# The student's code goes between START and END CODE HERE, in place of the raise.
c.ClearSolutions.code_stub = {
    "python": "### START CODE HERE ###\n"
              "raise NotImplementedError(\"Replace this line with your code.\")\n"
              "### END CODE HERE ###"
}

# Training cells run longer than nbgrader's default of 30 s per cell; a runaway cell still stops.
c.Execute.timeout = 600
c.Execute.interrupt_on_timeout = True

# TensorFlow's informational stderr lines would give 0 points to a correct test cell.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = (r"(?m)^(I0000|W0000|E0000|WARNING: All log messages before absl"
                           r"|.*oneDNN custom operations|.*cpu_feature_guard|.*TF-TRT Warning"
                           r"|.*computation_placer|.*cuda_(dnn|fft|blas|executor))")

# Student notebooks must not bring large files into the gradebook's folders.
c.CourseDirectory.max_file_size = 100000

# Feedback goes to the students: it shows their results but not the hidden tests' code, neither
# in the test cells nor as context lines of a traceback (plain tracebacks show one line a frame).
c.Execute.extra_arguments = ["--InteractiveShell.xmode=Plain"]
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
