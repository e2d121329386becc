"""Auto-graded assembly exercises: a spec (programs/exercises/<name>/exercise.toml) says
what a solution must do; the grader runs it on randomized inputs and checks its output,
exit status, syscall trace, entry mechanisms, instructions and instruction count, with
feedback aimed at the likely mistake. Headless: no textual here, the TUI and the command
line are its front ends."""

from programs.grading.catalog import find, names, ordered
from programs.grading.grader import Report, grade
from programs.grading.spec import Exercise, SpecError, load

__all__ = ["Exercise", "Report", "SpecError", "find", "grade", "load", "names", "ordered"]
