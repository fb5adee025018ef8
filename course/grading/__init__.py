"""Grading a class: submissions read and sanitized (``submissions``), one Dask task per
submission (``classroom``, ``engine``, ``worker``), each kernel in a sandbox (``sandbox``), the
demonstration cells no grade needs (``demo_cells``), nbgrader's course and scores
(``nbgrader_course``) and what the next run keeps (``record``)."""
