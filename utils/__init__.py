"""The course's helper package. Each notebook's first cell checks ``COURSE_PACKAGE`` to tell this
package from a student's own ``utils.py`` or ``utils/`` folder that would hide it."""

COURSE_PACKAGE = "cnn-course"
