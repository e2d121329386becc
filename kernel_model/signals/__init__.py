"""Signals: CPU exceptions become signals, delivered on a real signal frame or by the
default action."""
