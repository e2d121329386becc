"""The run loop: resume the CPU until the next stop, say why it stopped (a StopCause), let
the kernel handle it. System.run, the stepping session, the grader and lessons all go
through `loop.resume` and `loop.enter_kernel`."""
