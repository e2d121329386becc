"""A process's address space as the kernel sees it."""
