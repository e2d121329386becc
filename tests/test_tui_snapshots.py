"""SVG snapshots of the main screens (pytest-textual-snapshot). They guard the layout, not the
logic (test_tui.py does that): a panel that vanishes, overlaps or truncates shows up here.
Update with `pytest tests/test_tui_snapshots.py --snapshot-update` after a deliberate change,
and look at the SVGs before committing them."""

from conftest import PROGRAMS
from test_tui import factory, settle

from tui.app import make_app

HELLO = PROGRAMS / "asm" / "hello_syscall.s"


def keys(*names):
    async def run(pilot):
        app = pilot.app
        await settle(pilot, app)
        for key in names:
            await pilot.press(key)
            await settle(pilot, app)
        app.screen.set_focus(None)  # no blinking cursor in the picture
        await pilot.pause()

    return run


def test_wide_at_the_syscall_table_phase(snap_compare):
    """120x40: code and transition side by side, registers and the events tab below; the
    transition is at its sys_call_table phase with row 1 (write) picked out, and the code
    panel shows user mode waiting at the syscall."""
    app = make_app(factory(HELLO))
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("t", "s", "s", "s", "s"))


def test_wide_after_the_return(snap_compare):
    """120x40: the last phase (sysret): the view is after the crossing, rax/rcx/r11 changed
    and their old values listed, the output tab... the events list has the write line."""
    app = make_app(factory(HELLO))
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("t", "s", "n"))


def test_small_terminal_transition_tab(snap_compare):
    """80x24: every panel is a tab; stopping at a transition brings the Transition tab
    forward, and its text fits the width."""
    app = make_app(factory(HELLO))
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys("t", "s"))


def test_small_terminal_code_tab(snap_compare):
    """80x24: the Code tab with the changed-registers strip under it, assembly source
    comments beside the instructions."""
    app = make_app(factory(HELLO))
    assert snap_compare(app, terminal_size=(80, 24), run_before=keys("s", "s"))


def test_light_theme_is_readable(snap_compare):
    """120x40 in the light theme: the same roles (pc, trap, changed, phase) in colours
    that read on a light background."""
    app = make_app(factory(HELLO))
    assert snap_compare(app, terminal_size=(120, 40), run_before=keys("d", "t", "s"))
