"""Processes: their state, how execve builds one, and where a task waits."""
