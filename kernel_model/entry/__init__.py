"""The ways into the kernel: which table a trap indexes, which registers carry what, and
what each crossing costs."""
