"""The headless stepping engine behind the TUI: a DebugSession (debugger.session) steps a
System one instruction, one transition phase or one free run at a time, records history, and
goes back in it exactly (registers, memory, kernel state, the guest's standard streams).
Nothing is imported here, so a replay (debugger.recording) loads without the machine."""
