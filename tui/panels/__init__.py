"""What each panel shows, as pure functions of a StopView (kernel_model.debugger.view), the way
pwndbg's context_<name>() and gdb-dashboard's modules are: testable without a terminal.

A panel is a list of lines; a line is a list of (text, role) segments. Roles are semantic
("pc", "changed", "trap", "kind-heap"...); the widgets map them to theme colours, so the same
panel reads well in dark and light themes.
"""

from tui.panels.code import code_lines
from tui.panels.events import event_lines
from tui.panels.maps import maps_lines
from tui.panels.output import output_lines
from tui.panels.processes import process_lines
from tui.panels.registers import flags_text, register_lines
from tui.panels.stack import stack_lines
from tui.panels.status import history_lines, status_line
from tui.panels.transition import transition_lines

__all__ = ["code_lines", "event_lines", "flags_text", "history_lines", "maps_lines",
           "output_lines", "process_lines", "register_lines", "stack_lines", "status_line",
           "transition_lines"]


def plain(lines) -> str:
    """A panel as plain text (for tests and screen captures)."""
    return "\n".join("".join(text for text, _role in line) for line in lines)
