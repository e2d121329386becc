"""The event stream and what reads it: the strace decoder, the trace writers and the -c table."""
