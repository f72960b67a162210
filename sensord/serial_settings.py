"""The line settings of a serial port (a leaf module: config builds them, the source applies
them)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BYTESIZES", "PARITIES", "PARITY_WORDS", "STOPBITS", "SerialSettings"]

#: Allowed values of the settings with a fixed set of choices.
BYTESIZES: tuple[int, ...] = (5, 6, 7, 8)
PARITIES: tuple[str, ...] = ("N", "E", "O", "M", "S")
STOPBITS: tuple[float, ...] = (1.0, 1.5, 2.0)

#: Other words for the parities: refused, with the letter as the did-you-mean (``serial.parity``
#: in the config file and ``--parity`` on the command line alike).
PARITY_WORDS: dict[str, str] = {"none": "N", "even": "E", "odd": "O", "mark": "M", "space": "S"}


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """Line settings of one serial port; field names are the keys under ``[sensors.serial]``."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    xonxoff: bool = False
    rtscts: bool = False
    dsrdtr: bool = False
    timeout_s: float = 1.0
    exclusive: bool = True
    #: the DTR and RTS lines while the port is open (without dsrdtr / rtscts, which drive
    #: them), and whether closing drops them (HUPCL): boards that reset on a DTR edge (an
    #: Arduino) keep running across sensord's reopens with ``hupcl = false``
    dtr: bool = True
    rts: bool = True
    hupcl: bool = True
    #: RS-485 direction control by the kernel driver (TIOCSRS485): RTS level while sending
    #: and after, and the delays around sending
    rs485: bool = False
    rs485_rts_level_for_tx: bool = True
    rs485_rts_level_for_rx: bool = False
    rs485_delay_before_tx_s: float = 0.0
    rs485_delay_before_rx_s: float = 0.0
    #: the adapter hears its own transmission: drop the echo of every byte written
    #: (:mod:`sensord.sources.echo`)
    local_echo: bool = False
