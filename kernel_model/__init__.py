"""The mini-kernel: entry paths, syscall tables and handlers, process state, files, signals.

It drives an `emu.machine.Machine` and reports everything it does as events
(`kernel_model.trace.events`); it never imports the screen.
"""
