"""The instructor's tooling of the course (``python -m course COMMAND``): authoring the release,
the student distribution and the site (``authoring``), grading a class (``grading``) with scores
decided outside the student's code (``trusted``). Students never receive this package; the
helpers their notebooks import are ``utils``."""
