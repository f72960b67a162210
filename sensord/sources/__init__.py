"""Byte sources: real serial ports (pyserial) and simulated ports."""
