"""Trusted grading: scores decided outside the student's code.

nbgrader still runs each submission (in the sandboxed kernel) and stays the record of every
grade, but a test cell's score no longer depends on what the kernel prints. The autograde
pipeline runs :class:`~course.trusted.executor.TrustedExecute` in place of nbgrader's
Execute: it runs the notebook's cells except the test cells, then, for each graded function in
an order where helpers come before their callers, sends the cases of that function's test cell
(public and hidden, read from the source notebook by :mod:`~course.trusted.cases`) into
the kernel as data, receives the function's answers as plain data (:mod:`utils.graded`), and
compares them in the grader's own process with the reference solution's answers
(:mod:`~course.trusted.reference_answers`). The verdict becomes the test cell's output, which
nbgrader's SaveAutoGrades turns into the cell's score.

None of this package is visible inside the sandbox.
"""
