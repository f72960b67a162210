"""HDLC-style byte stuffing of binary frames (``frame.escape``, RFC 1662, as Sensirion's
SHDLC and XBee API frames use it): a stream unstuffed for the framer, a frame stuffed as a
device sends it for the encoder."""

from __future__ import annotations

from sensord.formats.base import FrameSpec

__all__ = ["STUFF_XOR", "stuff", "unstuff"]


#: What an escaped byte is XORed with (HDLC, RFC 1662).
STUFF_XOR = 0x20


def unstuff(data: bytes, escape: int, flags: bytes = b"") -> tuple[bytes, bool, int]:
    """``data`` with each escape byte and the byte after it read as that byte XOR 0x20; whether
    ``data`` ends with an escape byte (left out: the next chunk's first byte is the one it
    escapes); and how many escape bytes were dropped because a byte of ``flags`` (the frame
    delimiters, which are never escaped) followed them: the flag is kept as it is."""
    mark = bytes([escape])
    if mark not in data:
        return data, False, 0
    parts = data.split(mark)
    out = bytearray(parts[0])
    pending = False
    dropped = 0
    for part in parts[1:]:
        if pending:  # an escaped escape byte: this part follows it as it is
            out.append(escape ^ STUFF_XOR)
            out += part
            pending = False
        elif not part:
            pending = True
        elif part[0] in flags:
            dropped += 1
            out += part
        else:
            out.append(part[0] ^ STUFF_XOR)
            out += part[1:]
    # an empty last part: the data ends with an escape byte that escapes nothing yet
    return bytes(out), pending, dropped


def stuff(frame: FrameSpec, data: bytes) -> bytes:
    """A frame as a device with byte stuffing sends it: after the first byte and before the
    end byte, the escape byte, the first start byte and the end byte are escaped."""
    escape = frame.escape
    if escape is None:
        return data
    special = {escape, *frame.start[:1]} | ({frame.end} if frame.end is not None else set())
    last = len(data) - 1 if frame.end is not None else len(data)
    out = bytearray(data[:1])
    for byte in data[1:last]:
        if byte in special:
            out += bytes([escape, byte ^ STUFF_XOR])
        else:
            out.append(byte)
    out += data[last:]
    return bytes(out)
