"""Widgets of the stepping TUI: panels, the events list, the output pane."""
