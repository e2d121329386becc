"""Screens of the stepping TUI: the layouts (wide, compact, presentation) and dialogs."""
