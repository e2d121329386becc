"""The x86-64 vsyscall page at its fixed address: emulated (today) or native code (before 3.1)."""
