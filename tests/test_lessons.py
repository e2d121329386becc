"""Lessons: every bundled lesson plays to each of its stops headless (through the
DebugSession, no screen), back and forth; mistakes in a lesson file are reported at their
line; `syscall-lab lessons` lists them."""

from __future__ import annotations

import textwrap

import pytest
from conftest import cli

from programs import lesson
from programs.lesson_play import LessonPlayer, make_session, play

BUNDLED = lesson.bundled()


def test_there_are_lessons_for_the_whole_story():
    assert len(BUNDLED) >= 6


@pytest.mark.parametrize("name", list(BUNDLED))
def test_every_stop_is_reached_and_narrated(name):
    les = lesson.find(name)
    seen = []
    for k, player in play(les):
        stop = les.stops[k]
        assert stop.narration.strip(), f"{name}: stop {k + 1} has no narration"
        assert player.index == k and player.at_stop()
        for line in player.point_lines():
            assert "not a register" not in line and "unknown" not in line, line
            assert "nothing mapped" not in line, line
        seen.append(k)
    assert seen == list(range(len(les.stops)))


@pytest.mark.parametrize("name", list(BUNDLED))
def test_going_back_lands_on_the_same_stop(name):
    """Back (a replay from the start of history) finds each stop exactly where going
    forward did: the same registers, and the same phase of the same transition."""
    les = lesson.find(name)
    session = make_session(les)
    try:
        player = LessonPlayer(les, session)
        forward = []
        for k in range(len(les.stops)):
            player.goto(k)
            forward.append(_where(session))
        for k in reversed(range(len(les.stops) - 1)):
            player.back()
            assert player.index == k
            assert _where(session) == forward[k], f"{name}: stop {k + 1} differs going back"
    finally:
        session.close()


def _where(session):
    w = session.walk
    return (session.regs(), None if w is None else (w.transition.title, w.phase))


def test_a_student_who_wanders_off_is_brought_back_to_the_stop():
    les = lesson.find("what-is-a-syscall")
    session = make_session(les)
    try:
        player = LessonPlayer(les, session)
        player.goto(1)  # before the write
        at_write = session.regs()
        session.step()
        session.step()
        assert not player.at_stop()
        player.forward()  # back onto stop 2 first, not on to stop 3
        assert player.index == 1 and session.regs() == at_write
    finally:
        session.close()


def test_the_users_breakpoints_do_not_stop_the_lesson():
    les = lesson.find("what-is-a-syscall")
    session = make_session(les)
    try:
        session.add_breakpoint("0x401005")
        player = LessonPlayer(les, session)
        player.goto(1)
        assert session.upcoming() == ("syscall", None)
    finally:
        session.close()


# -- mistakes in a lesson file point at their line ------------------------------------------------
def write(tmp_path, text: str):
    path = tmp_path / "mine.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


GOOD_HEAD = """
title = "Mine"
program = "hello-syscall"

[[stop]]
at = "_start"
narration = "The start."
"""


def test_toml_syntax_errors_carry_their_line(tmp_path):
    path = write(tmp_path, GOOD_HEAD + '\n[[stop]]\nat = "exit\nnarration = "x"\n')
    with pytest.raises(lesson.LessonError) as e:
        lesson.load(path)
    assert e.value.line == 9
    assert str(e.value).startswith(f"{path}:9: not valid TOML")


@pytest.mark.parametrize("stop, line, message", [
    ('at = "no_such_label"\nnarration = "x"', 9, "`no_such_label` is not an address"),
    ('at = "syscall wrte"\nnarration = "x"', 9, "`wrte` is not a syscall name"),
    ('at = "exit"\nnarraton = "x"', 10, "unknown key `narraton`"),
    ('at = "exit"\nnarration = "  "', 10, "needs a `narration`"),
    ('narration = "x"', 8, "stop 2 needs `at`"),
    ('at = "phase"\nnarration = "x"', 9, "needs one phase"),
    ('at = "exit"\npoint = "rxa"\nnarration = "x"', 10, "`point = \"rxa\"`"),
    ('at = "exit"\npoint = "[nowhere+8]"\nnarration = "x"', 10, "`nowhere` is not a"),
    ('at = "start"\nnarration = "x"', 9, "`start` can only be the first stop"),
])
def test_semantic_errors_point_at_the_offending_key(tmp_path, stop, line, message):
    path = write(tmp_path, GOOD_HEAD + "\n[[stop]]\n" + stop + "\n")
    with pytest.raises(lesson.LessonError) as e:
        lesson.load(path)
    assert message in e.value.message
    assert e.value.line == line, str(e.value)


def test_a_bad_program_or_option_points_at_its_line(tmp_path):
    path = write(tmp_path, GOOD_HEAD.replace('"hello-syscall"', '"hello-sycall"'))
    with pytest.raises(lesson.LessonError) as e:
        lesson.load(path)
    assert e.value.line == 2 and "hello-sycall" in e.value.message
    path = write(tmp_path, 'options = ["--vsyscall", "sometimes"]\n' + GOOD_HEAD)
    with pytest.raises(lesson.LessonError) as e:
        lesson.load(path)
    assert e.value.line == 1 and "sometimes" in e.value.message


def test_a_stop_that_is_never_reached_is_reported_at_its_line_when_played(tmp_path):
    path = write(tmp_path, GOOD_HEAD + '\n[[stop]]\nat = "syscall getpid"\nnarration = "x"\n')
    les = lesson.load(path)
    with pytest.raises(lesson.LessonError) as e:
        list(play(les))
    assert e.value.line == 9 and "no `getpid` syscall came" in e.value.message
    r = cli("lesson", "--check", str(path))
    assert r.returncode == 1
    assert f"{path}:9:" in r.stderr.decode()


def test_a_phase_the_transition_does_not_have_names_the_ones_it_has(tmp_path):
    path = write(tmp_path, GOOD_HEAD + '\n[[stop]]\nat = "phase sysret"\nnarration = "x"\n')
    with pytest.raises(lesson.LessonError) as e:
        list(play(lesson.load(path)))
    assert "no phase `sysret`" in e.value.message and "5 return" in e.value.message


def test_a_users_lesson_next_to_its_own_program(tmp_path):
    """A lesson file and an assembly file side by side, the program named by its path."""
    (tmp_path / "tiny.s").write_text("bits 64\n_start:\n    mov eax, 60\n    mov edi, 3\n"
                                     "here:\n    syscall\n")
    path = write(tmp_path, """
        title = "Tiny"
        program = "tiny.s"

        [[stop]]
        at = "here"
        point = "rdi"
        narration = "Ready to exit with 3."
        """)
    les = lesson.load(path)
    (k, player), = list(play(les))
    assert player.point_lines() == ["rdi = 0x3"]


def test_lessons_lists_every_bundled_lesson():
    r = cli("lessons")
    assert r.returncode == 0
    out = r.stdout.decode()
    for name in BUNDLED:
        assert name in out
    assert "What a syscall is" in out
