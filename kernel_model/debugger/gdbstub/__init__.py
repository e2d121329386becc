"""A gdb remote serial protocol stub over a DebugSession: the real gdb attaches with
`target remote` (packets.py: framing; tdesc.py: registers; commands.py: what each packet
does; server.py: the TCP side)."""
