"""The headless stepping engine behind the TUI: a DebugSession steps a System one
instruction, one transition phase or one free run at a time, records history, and goes back
in it exactly (registers, memory, kernel state, the guest's standard streams)."""

from kernel_model.debugger.session import Breakpoint, DebugSession, ReplayDiverged, Stop

__all__ = ["Breakpoint", "DebugSession", "ReplayDiverged", "Stop"]
