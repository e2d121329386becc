"""The machine: Unicorn, guest memory, program loaders, assembler and disassembler.

Nothing here knows about the kernel model or the screen.
"""
