"""Presets of ``format = "frames"``: the frame spec, channels and polling of known sensors.

``preset = "pms5003"`` in a sensor's table fills in every key of the preset that the table does
not give itself (``format``, ``frame``, ``channels``, ``poll``, ``warmup_s``), so ``name``,
``port`` and ``preset`` are a complete sensor. A ``poll`` table of the sensor's own is merged
key by key with the preset's (``poll = { interval_s = 10 }`` keeps the MH-Z19's read
request; a ``request`` or ``command`` of its own replaces the preset's). A preset is the data
a user could write in the configuration file, as parsed TOML; channel names carry their units.

Layouts, from the manufacturers' datasheets:

* Plantower PMS5003, PMS7003 and PMSA003: 32-byte frames ``42 4D``, a big-endian length of the
  28 bytes after it, thirteen big-endian 16-bit values (PM1.0/PM2.5/PM10 in µg/m³ with CF=1
  "standard particle", the same under atmospheric environment, then the particles per 0.1 L of
  air above 0.3, 0.5, 1.0, 2.5, 5.0 and 10 µm, then a reserved word) and the 16-bit sum of
  bytes 0..29. The sensors stream in active mode, the default after power-on.
* Plantower PMS5003T, PMS5003S and PMS5003ST: the PMS5003's frame, start bytes, sum and
  commands, with other data words. Counting the data words from 1 (word ``k`` at byte
  ``2 + 2k``):

  ===========  =====  ======  ===============================================================
  preset       bytes  length  data words
  ===========  =====  ======  ===============================================================
  pms5003t     32     00 1C   1-6 PM, 7-10 particles above 0.3/0.5/1.0/2.5 µm, 11
                              temperature in tenths of °C (signed), 12 relative humidity in
                              tenths of %, 13 reserved
  pms5003s     32     00 1C   1-12 as the PMS5003, 13 formaldehyde (HCHO) in µg/m³
  pms5003st    40     00 24   1-12 as the PMS5003, 13 HCHO in µg/m³, 14 temperature in
                              tenths of °C (signed), 15 relative humidity in tenths of %, 16
                              reserved, 17 firmware version (high byte) and error code (low
                              byte); the sum covers bytes 0..37
  ===========  =====  ======  ===============================================================

  Plantower's datasheets give HCHO in thousandths of mg/m³, which is µg/m³ (value / 1000 is
  mg/m³). The T and S variants send the PMS5003's header ``42 4D 00 1C``: nothing in a frame
  tells them from a PMS5003, so the preset names the model; the ST's frames are 40 bytes, and a
  preset of the other length rejects them (``syntax``) rather than reading them. The word
  tables are those of the datasheets as public drivers read them: avaldebe/PMserial (issue #10,
  "Support PMS5003S/ST/T", and ``SerialPM::decodeBuffer``: HCHO at byte 28 times 1e-3 mg/m³,
  the T's temperature as ``int16_t`` at byte 24, the ST's at byte 30), ESPHome's pmsx003
  component (``esphome/components/pmsx003/pmsx003.cpp``: HCHO at byte 28 in µg/m³,
  temperature signed at 24 or 30, humidity 2 bytes later, the ST's firmware version and error
  code at bytes 36 and 37), Tasmota's ``xsns_18_pms5003.ino`` (``PMS_MODEL_PMS5003T``:
  temperature10x and humidity10x in place of the 5.0 and 10 µm counts) and avaldebe/PyPMS
  (``pms/sensors/plantower/pms5003t.py``, ``pms5003s.py``, ``pms5003st.py``: the T's 11th
  and the ST's 14th word unpacked signed; PyPMS's recorded PMS5003T frames are this module's
  test fixture).
* Plantower PMS3003 (and the PMS2003): 24-byte frames ``42 4D 00 14``, the six mass
  concentrations as on the PMS5003 (CF=1, then atmospheric), three reserved words, and the
  16-bit sum of bytes 0..21. The sensor streams and takes no serial command (its SET pin puts
  it to standby). The layout is the one Safecast's firmware reads (``PMS2003, PMS3003: 24
  byte long messages``, body length 20) and PyPMS records (``tests/captured_data/data.csv``,
  rows ``PMS3003``).
* Nova Fitness SDS011: 10-byte frames ``AA C0``, PM2.5 and PM10 as little-endian tenths of
  µg/m³, a two-byte device id, the 8-bit sum of bytes 2..7, and ``AB``. The sensor streams once
  a second in its default reporting mode.
* Winsen MH-Z19B/C: answers the read request ``FF 01 86 00 00 00 00 00 79`` with 9 bytes
  ``FF 86``, CO2 ppm big-endian, and a two's-complement 8-bit checksum of bytes 1..7. Byte 4
  is the temperature plus 40 °C, in whole degrees, and coarse (the sensor's own, near its
  lamp). Winsen's datasheets do not document it; 40 is what ESPHome's ``mhz19.cpp``
  (``response[4] - 40``), Tasmota's ``xsns_15_mhz19.ino`` (``mhz_response[4] - 40``),
  ESPEasy's ``P049_data_struct.cpp`` ("set temperature (offset 40)") and UedaTakeyuki's
  ``mh_z19`` package (its issue #5: byte 57 read as 17 °C) subtract, for the A, B and C
  versions alike, and what the sensor reports as its own temperature adjustment (command
  ``A3``: "40 is returned here", WifWaf/MH-Z19's ``getTempAdjustment``). The one library that
  subtracted 38, WifWaf/MH-Z19 1.5.0 to 1.5.2 (``TEMP_ADJUST 38``, "Older datasheets use 40,
  however is likely incorrect"; "this library deducts -2 ... as it appears inaccurate"), took
  2 °C more off because its author's readings seemed high, not for another model's layout,
  and went back to ``TEMP_ADJUST 40`` in 1.5.3. Units read several degrees above the room
  (UedaTakeyuki/mh-z19 issue #5: 29 to 30 °C in a 22 °C room; WifWaf/MH-Z19 issue #37: about
  10 °C on an MH-Z19C), more than those 2 °C and unit by unit: a channel's
  ``normalize.offset`` corrects one against a thermometer. The
  datasheets leave bytes 4..7 undocumented; the MH-Z19 "A" version sends a
  status byte in byte 5 (64 for a stable reading, less while the CO2 changes fast, 1 while it
  boots), the "B" version 0, and both the same temperature byte (Tasmota's
  ``xsns_15_mhz19.ino`` and ESPEasy's ``P049_data_struct.cpp`` read byte 4 of both and tell
  them by byte 5). A frame of status 1 holds no measurement ("S==1 => "A" version sensor
  bootup, do not use values", in both): the preset's status check rejects it (``invalid``),
  and reads every other status alike. The preset polls every 5 s with the request, its
  checksum computed. While it boots, the sensor answers with 15000 in bytes 6..7 (``3A 98``),
  and its automatic baseline calibration is on again after it: Tasmota's
  ``xsns_15_mhz19.ino`` and ESPEasy's ``_P049_MHZ19.ino`` ignore such answers and write
  their ABC command again once the boot is over. Bytes 6..7 of an "A" version's
  measurements are no constant: RevSpace's MHZ19 page logs ``01 3A 98`` in bytes 5..7 while
  it boots (status 1), then status ``40`` with about 10500 (``2A E1``, 10977), and a unit
  of SmingHub/Sming PR #2415 answers status ``40`` with 17103 (``ff 86 0d e5 3d 40 42 cf
  fa``), so a measurement may hold 15000 there too; a "B" version's hold 0 with status 0
  (ESPEasy issue #466, "The 'S' and 'U' are not present on the "B" version"; UedaTakeyuki/
  mh-z19 issue #25, ``"SS": 0, "UhUl": 0``), or a count in byte 6 with byte 7 0
  (ArminJo/MH-Z19 reads byte 6 as its ``ABCCounter``, "incremented by MHZ19 every 10
  minutes", and records ``02 6F 3F 00 7E 00`` in bytes 2..7). The preset's ``boot_bytes``
  are therefore status 0 or 1 with 15000 (``00 3A 98`` at byte 5, ``boot_mask`` ``FE FF
  FF``): never an "A" version's measurement, whose status has a bit above the lowest set,
  nor a "B" or "C" version's, whose byte 7 is 0 whatever byte 6 counts. Such answers
  publish nothing, and a sensor that gets one mid-run warms up
  again and writes its set-up commands again once an answer without them comes (a supply
  that sags restarts the sensor behind an open port). Tasmota calls 15000 the value of "During
  (and only ever at) sensor boot"; no source gives how long the boot lasts, and nothing else
  in a B or C version's answer tells a restart: its status byte is 0 throughout, and the
  preheat's 410 or 500 ppm are values that real air gives too. A cut whose boot answers all
  fall between two polls is told only by its silence: :data:`sensord.dialogue.SILENT_POLLS`
  polls unanswered warm the sensor up again (a poll answered with the rest of an answer
  whose first byte the line lost or damaged, its command byte and checksum holding, is
  answered: :func:`spoilt_answer_check`; such an answer of its boot, made whole, is its
  restart, as a boot answer that came whole: ``sensord.dialogue.DialoguePort.spoilt_boot``),
  and a stale spell in which no byte came and no frame for ``sensord.dialogue.SILENT_S``
  runs its set-up again once it answers (``answers_when_powered``, :func:`stores_setting`);
  a shorter silence leaves the set-up as it is, since a line that loses a few answers in a
  row (a fast-polled unit is stale after 5 s) would otherwise have the ABC command stored in
  the sensor's EEPROM again each time.

Warm-up (``warmup_s``): when a device may just have been powered (see ``sensord.sensor``), the
frames of the first seconds are read and not published. The PMS sensors' datasheet asks for at
least 30 s after wake-up, for the fan to settle, and the SDS011 needs as long; the MH-Z19B's
preheat is 3 minutes (its datasheet), during which it answers 410 or 500 ppm whatever the air
holds. A table that gives ``warmup_s = 0`` publishes at once. The warm-up runs again when a
re-run of the set-up writes the preset's wake command (:func:`wake_command`): after a
sleep/wake cycle a PMS sends PM values with every particle count 0 for its first frames
(avaldebe/PyPMS issue #3, "Discard invalid observations after wake up"). So does a polled
device that answers again after two polls in a row went unanswered, stale or not (an MH-Z19
powered anew behind its open port, whose boot answers fell between two polls, sends its preheat
values: ``sensord.dialogue.SILENT_POLLS``), a PMS set to passive mode that is found streaming
(:func:`streams_when_powered`), a PMS that streams again after it was stale
(``warmup_after_silence``: its SET pin or its supply put it to sleep), and an SDS011 whose
first frame after it was stale reads 0 for PM2.5 and PM10: powered anew, it sends zeros while
its fan spins up (ESPHome's ``esphome/components/sds011/sds011.cpp`` ``parse_data_`` drops
every frame whose both values are 0 as "not yet any valid data", PyPMS's ``sds01x.py`` raises
``SensorWarmingUp`` for it; Tasmota's ``xsns_20_novasds.ino`` and the airrohr firmware instead
read only 30 s and 15 s after starting the sensor), and so does a polled MH-Z19 whose first
answer after a silence reads 0 ppm, whatever its temperature byte (:func:`unmeasured_zero`).
Zeros after the warm-up are readings: very clean air reads 0; so are those of an SDS011 whose
set-up sets a working period, which sends each frame after its fan ran for 30 s (the sensor
keeps its working period through a power cut: "still effective after power off", Laser Dust
Sensor Control Protocol V1.3). For the same reason the warm-up of an open ends when such a
sensor's reply to the set-up's query reports that working period in force
(``sensord.dialogue.DialoguePort.on_working_period``): its first frame may come within 30 s of
the open, and the next a whole period later.

Commands (:data:`COMMANDS`) are named per preset and built with their checksums; a sensor sends
them on every connect (``setup = ["passive_mode"]``) or as its poll (``poll = { command =
"read", interval_s = 2 }``). A command that takes a number is written ``name=N``:

* PMS (every Plantower preset): ``42 4D`` command, two data bytes, 16-bit sum.
  ``passive_mode`` (E1 00 00), ``active_mode`` (E1 00 01), ``read`` in passive mode (E2 00 00),
  ``sleep`` (E4 00 00), ``wakeup`` (E4 00 01).
* SDS011: ``AA B4``, 15 data bytes (the last two FF FF: every sensor), their 8-bit sum, ``AB``.
  ``query_mode`` and ``active_mode`` (report mode 02), ``query`` (04), ``working_period=N`` (08,
  N minutes between measurements, 0..30; 0 is continuous), ``sleep`` and ``work`` (06). The
  reporting mode and the working period are stored in the sensor's flash ("still effective
  after power off", Laser Dust Sensor Control Protocol V1.3), which each write wears: the
  set-up asks for them first (:func:`command_query`: the command's id with byte 3 at 0,
  "query the current mode", and no value; the reply ``AA C5``, the id, 0 and the setting in
  force) and writes the command only when another setting is in force, or when the query got
  no reply (the setting in force is not known). ESPHome's ``sds011``
  component and Tasmota's ``xsns_20_novasds.ino`` write both at every start; lewapek's
  sds-dust-sensors-arduino-library has ``queryReportingMode`` and ``queryWorkingPeriod``
  (the command id alone, answered ``AA C5``), and the kolen/pm_logger firmware asks with them
  and sets only a setting that differs. With
  a working period N > 0 the sensor sends one frame every N minutes, so its stale timeout,
  unless configured, is at least N minutes and :data:`WORKING_PERIOD_MARGIN_S`
  (:func:`working_period_s`).
* MH-Z19: ``FF 01`` command, five bytes, two's-complement sum of bytes 1..7. ``read`` (86),
  ``abc_on`` and ``abc_off`` (79, automatic baseline calibration), ``range=N`` (99, N ppm:
  2000, 5000 or 10000, the detection ranges Winsen's datasheets give the command: 2000 and
  5000 the MH-Z19C's, and 10000 too the MH-Z19B's and MH-Z14A's), after which the sensor
  restarts (:func:`restarts_device`). Another N is refused with the models named
  (:data:`MHZ19_RANGES_HINT`): 1000 and 3000, which ESPEasy's MH-Z19 plugin has as commands
  it leaves disabled, are in no datasheet.

Acknowledgements (:class:`~sensord.formats.acks.Ack`, ``Command.ack``) of the commands whose
device answers them with a reply of its own, checked after the set-up commands:

* PMS: ``passive_mode``, ``active_mode`` and ``sleep`` are answered with the 8-byte frame
  ``42 4D 00 04``, the command, its data byte and the 16-bit sum (``42 4D 00 04 E1 00 01 74``
  for passive mode); ``wakeup`` gets no reply, ``read`` a data frame. A reply that comes when
  none is awaited (late, or to a command another program sent) is read as a frame without
  values (``frame.reply_length = 8``), not as a broken data frame. Plantower's datasheet
  does not list these replies: they are the responses recorded from a PMS5003 in the notes of
  a public Pms5003 Arduino example (its "Expected Response" table), and public Python drivers
  wait for the same 8-byte reply after passive mode and sleep.
* SDS011: every set command is answered ``AA C5``, the command's id, its write flag and value,
  a reserved byte, the device id, the 8-bit sum of bytes 2..7 and ``AB`` (Laser Dust Sensor
  Control Protocol V1.3); a reply whose setting differs from the one written is a wrong
  acknowledgement. A query of a setting is answered the same way with the write flag 0 and
  the setting in force. ``query`` is answered with a data frame.
* MH-Z19: ``abc_on``/``abc_off`` and ``range`` are answered with 9 bytes ``FF``, the command
  and the checksum; the reply's command byte is what Zephyr's MH-Z19B driver checks
  (drivers/sensor/mhz19b), and all that is checked here.

:class:`PresetDevice` is the command side of each preset's simulated device: it answers these
commands as the device does.

:func:`preset_hint` adds to a stale sensor's hint the Plantower preset that reads frames of
the length the device's frames announce, when the configured one reads another length.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
from collections.abc import Callable, Collection, Mapping, MutableMapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from sensord.formats.acks import Ack
from sensord.formats.base import FrameSpec
from sensord.formats.frames import FrameFramer, announced_length
from sensord.formats.frames_checksums import CHECKSUMS, checksum
from sensord.formats.frames_layout import frame_length, length_base
from sensord.names import closest

__all__ = [
    "COMMANDS",
    "PRESETS",
    "SDS011_REPLY_KINDS",
    "WORKING_PERIOD_MARGIN_S",
    "Command",
    "PresetDevice",
    "answers_when_powered",
    "asked_only",
    "command_ack",
    "command_bytes",
    "command_named",
    "command_query",
    "left_asleep",
    "preset_hint",
    "restarts_device",
    "spoilt_answer_check",
    "stores_setting",
    "stream_interval_note",
    "stream_interval_s",
    "streams_when_powered",
    "unasked_replies",
    "unmeasured_zero",
    "wake_command",
    "working_period_s",
]

#: The PMS data words that every Plantower preset reads, from the first: PM1.0/PM2.5/PM10 with
#: CF=1, the same under atmospheric environment, and the particles per 0.1 L above each size.
_PMS_PM = (
    "pm1_0_standard_ug_m3",
    "pm2_5_standard_ug_m3",
    "pm10_standard_ug_m3",
    "pm1_0_ug_m3",
    "pm2_5_ug_m3",
    "pm10_ug_m3",
)
_PMS_COUNTS = (
    "particles_0_3um_per_dl",
    "particles_0_5um_per_dl",
    "particles_1_0um_per_dl",
    "particles_2_5um_per_dl",
    "particles_5_0um_per_dl",
    "particles_10um_per_dl",
)


class _Word(NamedTuple):
    """How a channel of a PMS preset reads its data word, its filter's bounds, and the signal
    its simulated device sends (None: the simulator's default)."""

    type: str = "u16be"
    scale: float = 1.0
    low: float = 0.0
    high: float = 65535.0
    signal: Mapping[str, float] | None = None


def _signal(center: float, amplitude: float, noise: float) -> Mapping[str, float]:
    return MappingProxyType({"center": center, "amplitude": amplitude, "noise": noise})


#: The simulated air of the particulate presets: the mass concentrations and particle counts
#: of a clean room's air, all in phase, so PM1.0 <= PM2.5 <= PM10 and the counts fall with the
#: size as a real sensor reads them (the gaps are many times the noise).
_PM_SIGNALS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "pm1_0": _signal(8.0, 3.0, 0.3),
        "pm2_5": _signal(12.0, 5.0, 0.4),
        "pm10": _signal(17.0, 7.0, 0.5),
        "particles_0_3um_per_dl": _signal(1500.0, 500.0, 30.0),
        "particles_0_5um_per_dl": _signal(450.0, 150.0, 10.0),
        "particles_1_0um_per_dl": _signal(90.0, 30.0, 3.0),
        "particles_2_5um_per_dl": _signal(10.0, 4.0, 0.5),
        "particles_5_0um_per_dl": _signal(3.5, 1.2, 0.3),
        "particles_10um_per_dl": _signal(1.0, 0.4, 0.2),
    }
)


def _size_of(name: str) -> str:
    """The size class of a PMS mass concentration channel: ``pm2_5`` of ``pm2_5_ug_m3`` and of
    ``pm2_5_standard_ug_m3``."""
    return name.removesuffix("_ug_m3").removesuffix("_standard")


#: Channel name -> its word. Mass concentrations and counts are bounded only by their word:
#: the PMS datasheets' "maximum range" of PM2.5 is at least 1000 µg/m³ ("the highest output
#: value ... is not less than 1000", PMS5003ST data manual V2.6), a lower bound of what the
#: sensor sends, and units in smoke send more (1142 and 1500 µg/m³ from PMS7003s:
#: avaldebe/AQmon issue #9, hackerspace-silesia/Smogomierz issue #88). The temperature and
#: humidity words are tenths, the temperature signed; HCHO (µg/m³) is bounded at 10 mg/m³.
_PMS_WORDS: Mapping[str, _Word] = MappingProxyType(
    {
        **{name: _Word(signal=_PM_SIGNALS[_size_of(name)]) for name in _PMS_PM},
        **{name: _Word(signal=_PM_SIGNALS[name]) for name in _PMS_COUNTS},
        "hcho_ug_m3": _Word(high=10000.0, signal={"center": 30.0, "amplitude": 15.0, "noise": 2.0}),
        "temperature_celsius": _Word(
            "i16be", 0.1, -40.0, 100.0, {"center": 22.0, "amplitude": 2.0, "noise": 0.2}
        ),
        "humidity_percent": _Word(
            "u16be", 0.1, 0.0, 100.0, {"center": 45.0, "amplitude": 5.0, "noise": 0.5}
        ),
    }
)


def _pms(words: tuple[str, ...], length: int = 32) -> dict[str, Any]:
    """A Plantower preset whose data words, from the first, are the channels ``words`` (the
    words after them are not read), in ``length``-byte frames."""
    fields: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    for i, name in enumerate(words):
        word = _PMS_WORDS[name]
        field: dict[str, Any] = {"name": name, "offset": 4 + 2 * i, "type": word.type}
        if word.scale != 1.0:
            field["scale"] = word.scale
        fields.append(field)
        channel: dict[str, Any] = {"name": name, "filter": {"min": word.low, "max": word.high}}
        if word.signal is not None:
            channel["signal"] = dict(word.signal)
        channels.append(channel)
    return {
        "format": "frames",
        "frame": {
            "start": b"\x42\x4d",
            "length": length,
            "length_offset": 2,
            "length_size": 2,
            "length_byteorder": "big",
            "length_counts": "after",
            "checksum": "sum16be",
            "reply_length": 8,
            "fields": fields,
        },
        "channels": channels,
        "warmup_s": 30.0,
        # a PMS falls silent when it sleeps (its SET pin, a sleep command) or loses power, and
        # its fan takes the datasheet's 30 s to settle when it runs again
        "warmup_after_silence": True,
    }


def _pms_command(command: int, data: int) -> bytes:
    body = bytes([0x42, 0x4D, command]) + data.to_bytes(2, "big")
    return body + checksum("sum16be", body)


def _sds011_command(*data: int) -> bytes:
    payload = bytes(data).ljust(13, b"\x00") + b"\xff\xff"
    return b"\xaa\xb4" + payload + checksum("sum8", payload) + b"\xab"


def _mhz19_command(command: int, data: bytes = b"") -> bytes:
    body = bytes([0x01, command]) + data.ljust(5, b"\x00")
    return b"\xff" + body + checksum("twos8", body)


class Command(NamedTuple):
    """A preset command: its bytes from its number (None for a command without one), the
    numbers it takes (empty: none), the reply that acknowledges it, built from the
    command's bytes (None: the device sends no reply, or answers with a data frame),
    whether the device restarts once it took the command (:func:`restarts_device`), the
    query that asks the device for the setting the command stores, built from the command's
    bytes (None: the command is written without asking first; :func:`command_query`),
    what a number it does not take is told after the numbers it takes, and whether the
    device stores the setting in a memory that outlives a power cut and that each write
    wears (:func:`stores_setting`)."""

    build: Callable[[int | None], bytes]
    numbers: range | tuple[int, ...]
    ack: Callable[[bytes], Ack] | None = None
    restarts: bool = False
    query: Callable[[bytes], tuple[bytes, Ack]] | None = None
    refused: str = ""
    stores: bool = False


def _pms_ack(command: bytes) -> Ack:
    echo = b"\x42\x4d\x00\x04" + command[2:3] + command[4:5]
    return Ack(FrameSpec(start=echo[:5], length=8, checksum="sum16be"), echo)


def _sds011_ack(command: bytes) -> Ack:
    echo = b"\xaa\xc5" + command[2:5]
    layout = FrameSpec(start=echo[:3], length=10, end=0xAB, checksum="sum8", checksum_start=2)
    return Ack(layout, echo)


#: The SDS011's replies to commands of every kind (Laser Dust Sensor Control Protocol V1.3):
#: ``AA C5``, the command's id, its bytes, the device id, the 8-bit sum of bytes 2..7, ``AB``.
_SDS011_REPLY = Ack(
    FrameSpec(start=b"\xaa\xc5", length=10, end=0xAB, checksum="sum8", checksum_start=2), None
)

#: The kinds of the SDS011's replies by their command id (byte 2; the protocol's names).
SDS011_REPLY_KINDS: Mapping[int, str] = MappingProxyType(
    {
        0x02: "data reporting mode",
        0x05: "device id",
        0x06: "sleep and work",
        0x07: "firmware version",
        0x08: "working period",
    }
)


#: A PMS's replies to its set-up commands (Plantower PMS5003/PMS7003/PMSA003 manuals,
#: appendix II): ``42 4D``, the length ``00 04`` that no data frame has (theirs are ``00 1C``
#: and a PMS5003ST's ``00 24``), the command, its data byte and the 16-bit sum of the bytes
#: before it, as ``42 4D 00 04 E1 00 01 74`` answers passive mode.
_PMS_REPLY = Ack(FrameSpec(start=b"\x42\x4d\x00\x04", length=8, checksum="sum16be"), None)

#: The kinds of a PMS's replies by their command (byte 4; the manuals' names).
PMS_REPLY_KINDS: Mapping[int, str] = MappingProxyType({0xE1: "change mode", 0xE4: "sleep set"})


def unasked_replies(preset: str | None) -> tuple[Ack, Callable[[bytes], str]] | None:
    """The replies the device of ``preset`` sends to commands of any kind, which may come
    when the daemon awaits none (a reply to another program's command on the line, or to a
    set-up command later than the daemon watches for it), and the name of a reply's kind;
    None for a device whose replies have no such layout apart from its data frames. An
    SDS011 answers every command with ``AA C5`` and the command's id (Laser Dust Sensor
    Control Protocol V1.3; nettigo/namf's ``sds011.cpp`` reads such replies between its data
    packets and names their kinds "Reporting mode", "Sleep/work", "Working period", "FW
    version"). A PMS that takes commands answers passive mode, active mode and sleep with
    ``42 4D 00 04``, a length no data frame has (:data:`PMS_REPLY_KINDS`). An MH-Z19's replies
    (``FF`` and the command) are not watched so: their start bytes differ by command."""
    if preset == "sds011":
        return _SDS011_REPLY, _sds011_reply_kind
    if preset is not None and COMMANDS.get(preset) is _PMS_COMMANDS:
        return _PMS_REPLY, _pms_reply_kind
    return None


def _pms_reply_kind(reply: bytes) -> str:
    return PMS_REPLY_KINDS.get(reply[4], f"command {reply[4]:02X}")


def _sds011_reply_kind(reply: bytes) -> str:
    return SDS011_REPLY_KINDS.get(reply[2], f"command {reply[2]:02X}")


def _sds011_query(command: bytes) -> tuple[bytes, Ack]:
    """The query of the setting that the SDS011 set command ``command`` stores: the command
    with byte 3 0 ("query the current mode") and no value, and the reply that tells the
    setting is in force, ``AA C5``, the command's id, 0, the setting written (a reply of
    another setting has the same start bytes)."""
    code, value = command[2], command[4]
    echo = bytes([0xAA, 0xC5, code, 0, value])
    layout = FrameSpec(start=echo[:4], length=10, end=0xAB, checksum="sum8", checksum_start=2)
    return _sds011_command(code), Ack(layout, echo)


#: The detection ranges (ppm) of an MH-Z19's range command (99) that Winsen's datasheets give.
MHZ19_RANGES = (2000, 5000, 10000)
#: What ``range=N`` with another N is told: which model's datasheet gives which range.
MHZ19_RANGES_HINT = (
    "the detection ranges Winsen's datasheets give the range command (99): 2000 or 5000 ppm "
    "on an MH-Z19C, 2000, 5000 or 10000 on an MH-Z19B or MH-Z14A; 1000 and 3000, disabled "
    "commands in ESPEasy's MH-Z19 plugin, are in none"
)


def _mhz19_ack(command: bytes) -> Ack:
    head = b"\xff" + command[2:3]
    return Ack(FrameSpec(start=head, length=9, checksum="twos8", checksum_start=1), head)


_PMS_COMMANDS: dict[str, Command] = {
    "passive_mode": Command(lambda _: _pms_command(0xE1, 0), range(0), _pms_ack),
    "active_mode": Command(lambda _: _pms_command(0xE1, 1), range(0), _pms_ack),
    "read": Command(lambda _: _pms_command(0xE2, 0), range(0)),
    "sleep": Command(lambda _: _pms_command(0xE4, 0), range(0), _pms_ack),
    "wakeup": Command(lambda _: _pms_command(0xE4, 1), range(0)),
}

#: Preset -> command name -> command.
COMMANDS: Mapping[str, Mapping[str, Command]] = MappingProxyType(
    {
        "pms5003": _PMS_COMMANDS,
        "pms7003": _PMS_COMMANDS,
        "pmsa003": _PMS_COMMANDS,
        "pms5003t": _PMS_COMMANDS,
        "pms5003s": _PMS_COMMANDS,
        "pms5003st": _PMS_COMMANDS,
        "pms3003": {},  # a PMS3003 takes no command: its SET pin puts it to sleep
        "sds011": {
            # the reporting mode and the working period are stored in the sensor's flash:
            # asked for first, written only when another setting is in force or the query gets
            # no reply
            "query_mode": Command(
                lambda _: _sds011_command(0x02, 1, 1),
                range(0),
                _sds011_ack,
                query=_sds011_query,
                stores=True,
            ),
            "active_mode": Command(
                lambda _: _sds011_command(0x02, 1, 0),
                range(0),
                _sds011_ack,
                query=_sds011_query,
                stores=True,
            ),
            "query": Command(lambda _: _sds011_command(0x04), range(0)),
            "working_period": Command(
                lambda n: _sds011_command(0x08, 1, n or 0),
                range(31),
                _sds011_ack,
                query=_sds011_query,
                stores=True,
            ),
            "sleep": Command(lambda _: _sds011_command(0x06, 1, 0), range(0), _sds011_ack),
            "work": Command(lambda _: _sds011_command(0x06, 1, 1), range(0), _sds011_ack),
        },
        "mhz19": {
            "read": Command(lambda _: _mhz19_command(0x86), range(0)),
            # the ABC flag and the detection range are kept in the sensor's EEPROM
            "abc_on": Command(
                lambda _: _mhz19_command(0x79, b"\xa0"), range(0), _mhz19_ack, stores=True
            ),
            "abc_off": Command(
                lambda _: _mhz19_command(0x79, b"\x00"), range(0), _mhz19_ack, stores=True
            ),
            "range": Command(
                lambda n: _mhz19_command(0x99, b"\x00\x00\x00" + (n or 0).to_bytes(2, "big")),
                MHZ19_RANGES,
                _mhz19_ack,
                restarts=True,
                refused=MHZ19_RANGES_HINT,
                stores=True,
            ),
        },
    }
)


def command_bytes(preset: str | None, command: str) -> bytes:
    """The bytes of ``command`` (``name`` or ``name=N``) of ``preset``; ValueError naming what
    is wrong otherwise."""
    commands = COMMANDS.get(preset or "")
    if commands is None:
        raise ValueError("commands by name need a preset")
    name, equals, number = command.partition("=")
    entry = commands.get(name)
    if entry is None:
        has = f"it has {', '.join(commands)}" if commands else "it takes no command"
        close = closest(name, commands)
        if close:
            has = f"did you mean {close!r}? ({has})"
        raise ValueError(f"{preset} has no command {name!r}; {has}")
    build, numbers = entry.build, entry.numbers
    if not numbers:
        if equals:
            raise ValueError(f"{name!r} takes no number")
        return build(None)
    try:
        value = int(number)
    except ValueError:
        raise ValueError(f"{name!r} needs a number: {name}=N") from None
    if value not in numbers:
        told = f" ({entry.refused})" if entry.refused else ""
        if isinstance(numbers, range):
            raise ValueError(f"{name}: N must be one of {numbers.start}..{numbers.stop - 1}{told}")
        raise ValueError(f"{name}: N must be one of {', '.join(map(str, numbers))}{told}")
    return build(value)


def command_named(preset: str | None, data: bytes) -> str | None:
    """The command of ``preset`` (``name`` or ``name=N``) whose bytes are ``data``, or None:
    what a set-up command written as bytes does to the preset's device."""
    for name, (build, numbers, *_) in COMMANDS.get(preset or "", {}).items():
        if not numbers:
            if build(None) == data:
                return name
        else:
            for number in numbers:
                if build(number) == data:
                    return f"{name}={number}"
    return None


def restarts_device(preset: str | None, command: str) -> bool:
    """Whether the device of ``preset`` restarts once it took ``command`` (``name`` or
    ``name=N``; False for anything that is no command of the preset): an MH-Z19 restarts
    after it acknowledged ``range`` (ESPEasy's MH-Z19 plugin, ``P049_data_struct.cpp``:
    "case 0x99: // Detection range setting" expects a reset), and answers with its boot's
    frames until it is up."""
    entry = COMMANDS.get(preset or "", {}).get(command.partition("=")[0])
    return entry is not None and entry.restarts


def stores_setting(preset: str | None, command: str) -> bool:
    """Whether ``command`` of ``preset`` (``name`` or ``name=N``) has the device store its
    setting in a memory that outlives a power cut and that each write wears, so that writing
    it again is no harmless repeat. By the manuals, per preset command:

    * PMS (``passive_mode``, ``active_mode``, ``sleep``, ``wakeup``, ``read``): none is
      kept; "Default mode is active after power up" (the Plantower data manuals), and a
      power-up wakes the sensor. Written again, they wear nothing.
    * SDS011 ``query_mode``, ``active_mode`` and ``working_period=N``: stored in its flash
      ("The setting is still effective after power off", Laser Dust Sensor Control
      Protocol V1.3), each write asked for first (:func:`command_query`); ``sleep``,
      ``work`` and ``query`` are not stored (it works again after a power-up).
    * MH-Z19 ``abc_on``, ``abc_off`` (79) and ``range=N`` (99): kept in its EEPROM (the
      range applied by the restart that follows it: :func:`restarts_device`); older units
      turn ABC on again at each boot (Tasmota's ``xsns_15_mhz19.ino`` and ESPEasy's MH-Z19
      plugin: "After bootup of the sensor the ABC will be enabled. Thus only actively
      disable after bootup."), so a power-up may undo ``abc_off``, and nothing else does.
      ``read`` is not stored.

    True for bytes that are none of the preset's commands (what they do to the device is
    not known: an MH-Z19's other commands calibrate it, which it stores); False for a
    sensor without a preset."""
    commands = COMMANDS.get(preset or "")
    if commands is None:
        return False
    entry = commands.get(command.partition("=")[0])
    return entry is None or entry.stores


def command_ack(preset: str | None, command: str) -> Ack | None:
    """The reply that acknowledges ``command`` of ``preset`` (a valid command), or None."""
    entry = COMMANDS[preset or ""][command.partition("=")[0]]
    if entry.ack is None:
        return None
    return entry.ack(command_bytes(preset, command))


def command_query(preset: str | None, command: str) -> tuple[bytes, Ack] | None:
    """For a set-up ``command`` of ``preset`` (a valid command) that stores a setting the
    device keeps through a power cut, in a memory each write wears (the SDS011's reporting
    mode and working period): the bytes that ask the device for the setting in force, and
    the reply that tells it is the one ``command`` sets (a reply of the same layout with
    another value tells another setting is in force). None for a command written without
    asking."""
    entry = COMMANDS[preset or ""][command.partition("=")[0]]
    if entry.query is None:
        return None
    return entry.query(command_bytes(preset, command))


_SDS011: dict[str, Any] = {
    "format": "frames",
    "frame": {
        "start": b"\xaa\xc0",
        "length": 10,
        "end": 0xAB,
        "checksum": "sum8",
        "checksum_start": 2,
        "fields": [
            {"name": "pm2_5_ug_m3", "offset": 2, "type": "u16le", "scale": 0.1},
            {"name": "pm10_ug_m3", "offset": 4, "type": "u16le", "scale": 0.1},
        ],
    },
    "channels": [
        {
            "name": "pm2_5_ug_m3",
            "filter": {"min": 0.0, "max": 999.9},
            "signal": dict(_PM_SIGNALS["pm2_5"]),
        },
        {
            "name": "pm10_ug_m3",
            "filter": {"min": 0.0, "max": 1999.9},
            "signal": dict(_PM_SIGNALS["pm10"]),
        },
    ],
    "warmup_s": 30.0,
}

_MHZ19: dict[str, Any] = {
    "format": "frames",
    "frame": {
        "start": b"\xff\x86",
        "length": 9,
        "checksum": "twos8",
        "checksum_start": 1,
        # while it boots: status 0 (a "B" version's, always) or 1 (an "A" version's boot)
        # and 15000 in bytes 6..7, which an "A" version's measurements hold values near too
        "boot_bytes": b"\x00" + (15000).to_bytes(2, "big"),
        "boot_offset": 5,
        "boot_mask": b"\xfe\xff\xff",
        # the "A" version's status byte: 1 while it boots, its values no measurement; the
        # "B" version (MH-Z19B, MH-Z19C) sends 0
        "status_offset": 5,
        "status_ok": [0, *range(2, 256)],
        "fields": [
            {"name": "co2_ppm", "offset": 2, "type": "u16be"},
            # byte 4 at 0 (-40 °C, below either version's working range) is an MH-Z19C
            # firmware's "no temperature"
            {
                "name": "temperature_celsius",
                "offset": 4,
                "type": "u8",
                "bias": -40.0,
                "not_available": [0],
            },
        ],
    },
    "channels": [
        {
            "name": "co2_ppm",
            "filter": {"min": 0.0, "max": 10000.0},
            "signal": {"center": 650.0, "amplitude": 150.0, "noise": 5.0},
        },
        {
            "name": "temperature_celsius",
            "filter": {"min": -40.0, "max": 215.0},
            "signal": {"center": 22.0, "amplitude": 2.0, "noise": 0.3},
        },
    ],
    "poll": {"command": "read", "interval_s": 5.0},
    "warmup_s": 180.0,
}

#: Preset name -> the sensor keys it fills in (parsed TOML).
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "pms5003": _pms(_PMS_PM + _PMS_COUNTS),
        "pms7003": _pms(_PMS_PM + _PMS_COUNTS),
        "pmsa003": _pms(_PMS_PM + _PMS_COUNTS),
        "pms5003t": _pms(_PMS_PM + _PMS_COUNTS[:4] + ("temperature_celsius", "humidity_percent")),
        "pms5003s": _pms(_PMS_PM + _PMS_COUNTS + ("hcho_ug_m3",)),
        "pms5003st": _pms(
            _PMS_PM + _PMS_COUNTS + ("hcho_ug_m3", "temperature_celsius", "humidity_percent"),
            length=40,
        ),
        # 24-byte frames (length 0x14): the six mass concentrations, three reserved words
        "pms3003": _pms(_PMS_PM, length=24),
        "sds011": _SDS011,
        "mhz19": _MHZ19,
    }
)


# -- the simulated devices' command side ---------------------------------------------------------

#: The frames each kind of device reads: the commands above.
_COMMAND_FRAMES: Mapping[str, FrameSpec] = MappingProxyType(
    {
        "pms": FrameSpec(start=b"\x42\x4d", length=7, checksum="sum16be"),
        "sds011": FrameSpec(
            start=b"\xaa\xb4", length=19, end=0xAB, checksum="sum8", checksum_start=2
        ),
        "mhz19": FrameSpec(start=b"\xff\x01", length=9, checksum="twos8", checksum_start=1),
    }
)

_KINDS: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(
            ("pms5003", "pms7003", "pmsa003", "pms5003t", "pms5003s", "pms5003st", "pms3003"),
            "pms",
        ),
        "sds011": "sds011",
        "mhz19": "mhz19",
    }
)

#: The device id in a simulated SDS011's data frames and replies (the one in the protocol's
#: examples).
SDS011_DEVICE_ID = b"\xa1\x60"

#: The keys of a simulated SDS011's flash: its reporting mode (0 active, 1 query) and its
#: working period in minutes.
_MODE, _PERIOD = "reporting_mode", "working_period"


def _pms_reply(command: int, data: int) -> bytes:
    body = bytes([0x42, 0x4D, 0x00, 0x04, command, data])
    return body + checksum("sum16be", body)


def _sds011_reply(command: int, write: int, value: int) -> bytes:
    payload = bytes([command, write, value, 0]) + SDS011_DEVICE_ID
    return b"\xaa\xc5" + payload + checksum("sum8", payload) + b"\xab"


def _mhz19_reply(command: int) -> bytes:
    body = bytes([command, 0x01, 0, 0, 0, 0, 0])
    return b"\xff" + body + checksum("twos8", body)


class PresetDevice:
    """What a preset's device does with the commands written to it, for the simulator
    (:class:`sensord.sources.simulated.SimulatedDevice` sends its frames).

    ``receive`` reads the command frames in the written bytes (split across writes or not;
    bytes that are no valid command are ignored, as the device ignores them) and returns the
    answers in order: a reply's bytes, or None for one data frame. ``streaming`` is True while
    the device sends data frames on its own:

    * PMS: streams after power-on (active mode); ``passive_mode`` stops that, ``active_mode``
      resumes it, and both are acknowledged with ``42 4D 00 04 E1 <mode> <sum>``. ``read``
      answers one data frame. ``sleep`` silences the device (acknowledged ``42 4D 00 04 E4 00
      <sum>``) until ``wakeup``, which gets no reply; asleep, it answers nothing else.
    * SDS011: streams after power-on in active reporting mode, unless its flash holds query
      mode. Report mode (``query_mode``, ``active_mode``), ``working_period`` and sleep/work,
      set or queried (byte 3 1 or 0), are answered with ``AA C5``, the command, its byte 3,
      the setting now in force, the device id and the sum; ``query`` answers one data
      frame. Asleep, it answers only sleep/work. The working period is acknowledged; the
      simulated device keeps sending at its sampling rate. Its data frames carry the device
      id of its replies (:data:`SDS011_DEVICE_ID`, filled in by ``stamp``). The reporting
      mode and the working period it is set to go to ``flash`` (keys ``reporting_mode``, 0
      active and 1 query, and ``working_period``, in minutes), which it reads at power-on,
      so a device built again on the same ``flash`` (the same unit reconnected) starts with
      them, as the Laser Dust Sensor Control Protocol V1.3 says its flash keeps them ("still
      effective after power off"); it is awake after power-on whatever it was before.
    * MH-Z19: never streams. ``read`` (86) answers one data frame; ``abc_on``/``abc_off`` (79)
      and ``range`` (99) are answered with ``FF``, the command, ``01`` and the checksum.

    ``flash`` is the device's memory that outlives a power cycle (see SDS011 above); without
    one, the device has a memory of its own, as it left the factory.
    """

    __slots__ = ("_answer", "_commands", "_flash", "_kind", "active", "asleep", "period")

    def __init__(self, preset: str, flash: MutableMapping[str, int] | None = None) -> None:
        kind = _KINDS[preset]
        self._kind = kind
        self._commands = FrameFramer(_COMMAND_FRAMES[kind], 64)
        self._answer: Callable[[bytes], list[bytes | None]] = {
            "pms": self._pms,
            "sds011": self._sds011,
            "mhz19": self._mhz19,
        }[kind]
        self._flash: MutableMapping[str, int] = {} if flash is None else flash
        #: in its active (streaming) mode
        self.active = kind != "mhz19" and not (kind == "sds011" and self._flash.get(_MODE))
        self.asleep = False
        #: the SDS011's working period in minutes (0: continuous)
        self.period = self._flash.get(_PERIOD, 0) if kind == "sds011" else 0

    @property
    def streaming(self) -> bool:
        return self.active and not self.asleep

    def receive(self, data: bytes) -> list[bytes | None]:
        answers: list[bytes | None] = []
        for command in self._commands.feed(data):
            answers += self._answer(command)
        return answers

    def stamp(self, frame: bytes) -> bytes:
        """An SDS011's data frame with its device id (the one of its replies) in bytes 6..7
        and the sum recomputed; the frames of the other devices as they are."""
        if self._kind != "sds011":
            return frame
        body = frame[2:6] + SDS011_DEVICE_ID
        return frame[:2] + body + checksum("sum8", body) + frame[9:]

    def _pms(self, command: bytes) -> list[bytes | None]:
        code, value = command[2], command[4]
        if code == 0xE4:
            self.asleep = value == 0
            return [_pms_reply(code, value)] if self.asleep else []
        if self.asleep:
            return []
        if code == 0xE1:
            self.active = value == 1
            return [_pms_reply(code, value)]
        return [None] if code == 0xE2 else []

    def _sds011(self, command: bytes) -> list[bytes | None]:
        code, write, value = command[2], command[3], command[4]
        if code == 0x06:
            if write:
                self.asleep = value == 0
            return [_sds011_reply(code, write, 0 if self.asleep else 1)]
        if self.asleep:
            return []
        if code == 0x02:
            if write:
                self.active = value == 0
                self._flash[_MODE] = 0 if self.active else 1
            return [_sds011_reply(code, write, 0 if self.active else 1)]
        if code == 0x08:
            if write:
                self.period = self._flash[_PERIOD] = value
            return [_sds011_reply(code, write, self.period)]
        return [None] if code == 0x04 else []

    def _mhz19(self, command: bytes) -> list[bytes | None]:
        code = command[2]
        if code == 0x86:
            return [None]
        return [_mhz19_reply(code)] if code in {0x79, 0x99} else []


# -- set-ups after which the device must be asked ------------------------------------------------


class _Reporting(NamedTuple):
    """A device's reporting modes: the set-up command after which it sends a data frame only
    when asked (``quiet``), the one after which it streams again (``streaming``), the
    command that asks for a data frame (``ask``), and the commands that put it to sleep and
    wake it (``sleep``, ``wake``)."""

    quiet: str
    streaming: str
    ask: str
    sleep: str
    wake: str


#: Preset kind -> its reporting modes (the MH-Z19 is always asked: its preset polls).
_REPORTING: Mapping[str, _Reporting] = MappingProxyType(
    {
        "pms": _Reporting("passive_mode", "active_mode", "read", "sleep", "wakeup"),
        "sds011": _Reporting("query_mode", "active_mode", "query", "sleep", "work"),
    }
)


def _last_left_on(setup: Sequence[str], on: str, off: str) -> int | None:
    """The index of the last ``on`` command of ``setup`` that no ``off`` command follows."""
    last: int | None = None
    for i, command in enumerate(setup):
        if command == on:
            last = i
        elif command == off:
            last = None
    return last


def left_asleep(preset: str | None, setup: Sequence[str]) -> tuple[int, str] | None:
    """When the set-up commands ``setup`` leave the device of ``preset`` asleep (a sleep
    command that no wake command follows): the index of that command and the name of the
    preset's wake command; None otherwise. An asleep device sends nothing, asked or not."""
    reporting = _REPORTING.get(_KINDS.get(preset or "", ""))
    if reporting is None:
        return None
    asleep = _last_left_on(setup, reporting.sleep, reporting.wake)
    return None if asleep is None else (asleep, reporting.wake)


#: Preset kind -> the channels whose readings, all 0, tell its device does not measure (its
#: other fields' 0 is a reading): a PMS's particle fields, the MH-Z19's CO2 alone
#: (:func:`unmeasured_zero`).
_UNMEASURED_ZERO: Mapping[str, frozenset[str]] = MappingProxyType(
    {"pms": frozenset(_PMS_PM + _PMS_COUNTS), "mhz19": frozenset({"co2_ppm"})}
)


def unmeasured_zero(preset: str | None) -> frozenset[str] | None:
    """The channels of ``preset`` whose readings, all 0, tell its device does not measure
    (warming up, or after a fault), where a 0 in its other fields is a reading; None: all of
    them (an SDS011's PM2.5 and PM10 while its fan spins up, ESPHome's ``sds011.cpp``: "not
    yet any valid data"). Of a PMS, its mass concentrations and particle counts, which its
    fan and laser measure and which read 0 after a sleep/wake cycle (avaldebe/PyPMS issue
    #3, "Discard invalid observations after wake up"): every field of a PMS5003, PMS7003,
    PMSA003 and PMS3003, not the T's and ST's temperature and humidity, read by a sensor of
    their own, nor the S's and ST's formaldehyde, from an electrochemical cell (the PMS5003T
    and PMS5003ST data manuals' data 11 and 12, and 13 to 15), whose 0 °C, 0 % or 0 µg/m³
    is a reading and which read as before while the particle fields are 0. Of an MH-Z19,
    its CO2 alone: 0 ppm is below
    the zero point of every one (400 ppm, "ZERO POINT is 400PPM", the MH-Z19B datasheet;
    ESPEasy's and Tasmota's MH-Z19 filters take a value below 400 ppm for one of the
    "unrealistic values during start-up"), so no air reads it, whereas its temperature byte
    is its own thermistor's, offset by 40 (byte 4 minus 40: ESPHome's ``mhz19.cpp``,
    Tasmota's ``xsns_15_mhz19.ino``), 0 °C a reading (byte 40) and byte 0 an MH-Z19C's "no
    temperature" beside a sound CO2 reading (strange-v/MHZ19 issue #14: "Temperature: -40"
    with 1030 ppm; WifWaf/MH-Z19 issue #43)."""
    return _UNMEASURED_ZERO.get(_KINDS.get(preset or "", ""))


def answers_when_powered(preset: str | None) -> bool:
    """Whether the device of ``preset`` answers its poll whenever it is powered and its line
    carries the bytes, whatever was written to it (an MH-Z19: it has no sleep and no reporting
    mode), so no set-up command ends its silence: one written to it while it is silent reaches
    a device without supply, or one whose answers the line loses, which stores the setting
    again for nothing (the MH-Z19's ABC and range commands write its EEPROM, which each write
    wears)."""
    return _KINDS.get(preset or "") == "mhz19"


def streams_when_powered(preset: str | None) -> bool:
    """Whether the device of ``preset`` streams after a power-up whatever its set-up left it
    in (a PMS: "Default mode is active after power up", its data manuals), so that one set
    to send only when asked and found streaming was most likely powered anew (a supply that
    sagged or was cut behind an open port), its fan spinning up; an SDS011 keeps its
    reporting mode through a power cut (Laser Dust Sensor Control Protocol V1.3), so its
    streaming tells nothing of its supply."""
    return _KINDS.get(preset or "") == "pms"


def _mhz19_spoilt_answer(heard: bytes) -> bytes | None:
    """The answer made whole (its ``FF`` put back) when ``heard``, every byte read after an
    MH-Z19's read request and before the next one, is its answer with the first byte
    (``FF``) lost or damaged, None otherwise: 8 bytes ``86``, CO2,
    temperature, status, U and the checksum, or 9 whose first is not ``FF`` and whose next 8
    are those; the checksum, which covers bytes 1..7 and not the ``FF``, holds over them.
    The command byte ``86`` and the checksum tell such an answer from a device that lost its
    supply: what it sends then is nothing, or a burst of ``00`` (a TX line held low) or
    ``FF`` bytes (one floating high), whose ``00`` or ``FF`` is no command byte, and noise
    of 8 or 9 bytes passes both checks once in 65536."""
    if len(heard) not in (8, 9) or heard[0] == 0xFF:
        return None
    body = heard[-8:]
    if body[0] != 0x86 or checksum("twos8", body[:7]) != body[7:]:
        return None
    return b"\xff" + body


def _pms_spoilt_answer(length: int) -> Callable[[bytes], bytes | None]:
    """What tells ``heard``, every byte read after a Plantower's read request and before the
    next one, as its data frame of ``length`` bytes with one of its start bytes (``42 4D``)
    lost or damaged, and gives the frame made whole (None for other bytes): ``length`` - 1
    bytes, the start byte that came (``4D`` when the ``42`` was lost, ``42`` when the ``4D``
    was), or ``length`` bytes whose first two are ``42`` and another byte, or another byte
    and ``4D``; then the length field (``length`` - 4), the data and the checksum, the
    16-bit sum of every byte before it with the start bytes, which holds over them with
    ``42 4D`` in place of what came. The start byte that came,
    the length field and the checksum tell such a frame from a device that lost its supply
    (nothing, or bursts of ``00`` or ``FF``) and from line noise (the three of them hold
    over random bytes once in 2**32); a frame that lost or had damaged both start bytes is
    not told."""
    field = (length - 4).to_bytes(2, "big")
    tail = length - 2  # the length field, the data and the checksum

    def spoilt(heard: bytes) -> bytes | None:
        head = heard[:-tail]
        if len(head) == 1:
            if head[0] not in (0x42, 0x4D):
                return None
        elif len(head) != 2 or (head[0] == 0x42) == (head[1] == 0x4D):
            return None
        rest = heard[-tail:]
        if rest[:2] != field:
            return None
        if (0x42 + 0x4D + sum(rest[:-2])) % 65536 != int.from_bytes(rest[-2:], "big"):
            return None
        return b"\x42\x4d" + rest

    return spoilt


def spoilt_answer_check(
    preset: str | None, requests: Sequence[bytes]
) -> Callable[[bytes], bytes | None] | None:
    """For a sensor of ``preset`` polled with ``requests``: what tells that the bytes read
    after a request, before the next, are the device's answer spoilt on the line, its values
    intact and its frame not whole, so the device answered and was powered, and gives the
    answer made whole (None for other bytes); None when no such answer can be told. The
    answer made whole tells what the device said (an MH-Z19's answer of its boot), and is
    never read as a reading. An MH-Z19 polled with its read request (86) has one: its
    checksum leaves out the first byte, so an answer that lost it (a USB-UART adapter that
    drops a byte, a glitch on the line) can still be checked whole
    (:func:`_mhz19_spoilt_answer`); so has a Plantower polled with its read request (``E2``,
    in passive mode): its checksum covers its start bytes, a known ``42 4D``, and its
    length field is known too, so a frame that lost either start byte, or had it damaged,
    can be checked (:func:`_pms_spoilt_answer`). An answer whose checksum fails
    is no such answer: a unit just powered answers with a bad checksum first
    (bencorrado/pmsensor PR #8: "A bad checksum", then 1215 ppm twice, then 410 ppm for
    about a minute), and that power-up must not be hidden."""
    kind = _KINDS.get(preset or "")
    if preset is None or kind not in ("mhz19", "pms") or not requests:
        return None
    if "read" not in COMMANDS[preset]:  # a PMS3003 takes no command
        return None
    if any(request != command_bytes(preset, "read") for request in requests):
        return None
    if kind == "pms":
        return _pms_spoilt_answer(PRESETS[preset]["frame"]["length"])
    return _mhz19_spoilt_answer


def wake_command(preset: str | None) -> str | None:
    """The command that wakes the device of ``preset`` from sleep (PMS ``wakeup``, SDS011
    ``work``); None for a preset without one (a PMS3003 takes no command: its SET pin wakes
    it), and for a sensor without a preset."""
    reporting = _REPORTING.get(_KINDS.get(preset or "", ""))
    if reporting is None or reporting.wake not in COMMANDS.get(preset or "", {}):
        return None
    return reporting.wake


def asked_only(preset: str | None, setup: Sequence[str]) -> tuple[int, str] | None:
    """When the set-up commands ``setup`` leave the device of ``preset`` sending data frames
    only when asked: the index of the command that does it (the last one of ``setup`` that
    sets the reporting mode) and the name of the preset's command that asks; None when the
    device streams after them."""
    reporting = _REPORTING.get(_KINDS.get(preset or "", ""))
    if reporting is None:
        return None
    quiet = _last_left_on(setup, reporting.quiet, reporting.streaming)
    return None if quiet is None else (quiet, reporting.ask)


#: The Plantower presets whose device, in active mode (its default), sends a frame every 2.3 s
#: while the concentration changes little and every 200 to 800 ms while it changes fast: the
#: PMS5003, PMS7003 and PMSA003 data manuals' "stable mode" and "fast mode" ("If the
#: concentration change is small the sensor would run at stable mode with the real interval
#: of 2.3s"), the T, S and ST variants' the PMS5003's; pimoroni/enviroplus-python PR #45 saw
#: a PMS5003's pace rise as smoke came. The PMS3003's manual gives its data update time as
#: less than 2 s.
_STREAM_INTERVALS_S: Mapping[str, float] = MappingProxyType(
    {
        **dict.fromkeys(
            ("pms5003", "pms7003", "pmsa003", "pms5003t", "pms5003s", "pms5003st"), 2.3
        ),
        "pms3003": 2.0,
    }
)


def stream_interval_s(preset: str | None) -> float | None:
    """The longest time between two frames that the device of ``preset`` sends in its
    active mode, by its datasheet (:data:`_STREAM_INTERVALS_S`: a PMS's 2.3 s); None when
    it is not known."""
    return _STREAM_INTERVALS_S.get(preset or "")


def stream_interval_note(
    preset: str | None,
    setup: Sequence[str],
    stale_after_s: float,
    *,
    rewarms: bool,
    default_s: float,
) -> str | None:
    """For a sensor of ``preset`` that streams after its set-up commands ``setup`` (a PMS in
    active mode): what a ``stale_after_s`` shorter than twice the longest time between two
    of its frames that the datasheet gives (:data:`_STREAM_INTERVALS_S`) does, for
    ``sensord check``; None otherwise. No longer than that time, the sensor is stale between
    two frames of a working device in steady air, and, when it warms up again after a
    silence (``rewarms``: ``warmup_after_silence`` and a ``warmup_s``), each frame after such
    a spell warms it up again, which holds back nearly every reading; shorter than twice, a
    spell of frames whose start bytes the line spoils, which keep coming at that pace, is
    taken for a silence (``sensord.sensor_silence.QUIET_SHARE_OF_STALE``: no byte for half
    the stale timeout), and the sensor warms up again though the device was powered all
    along (none of that without ``rewarms``). ``default_s``: the sensor's ``stale_after`` without
    ``stale_after_s``, which the note offers. A note, not an error: the device sends faster
    while the air changes, and a clean line spoils no frame."""
    interval = _STREAM_INTERVALS_S.get(preset or "")
    if interval is None or asked_only(preset, setup) is not None or stale_after_s >= 2 * interval:
        return None
    if stale_after_s <= interval:
        effect = "the sensor is stale between two frames of a working device in steady air"
        if rewarms:
            effect += (
                ", and each frame after such a spell warms it up again "
                "(warmup_after_silence): nearly every reading is held back"
            )
    elif rewarms:
        effect = (
            "a spell of frames whose start bytes the line spoils, which keep coming at that "
            "pace, leaves no byte for half the stale time and is taken for a silence: the "
            "sensor warms up again though the device never stopped"
        )
    else:
        return None
    pace = (
        "at most (its datasheet's data update time)"
        if preset == "pms3003"
        else "in active mode when the air changes little (its datasheet's stable mode)"
    )
    return (
        f"stale_after_s {stale_after_s:g} s is shorter than twice the {interval:g} s between "
        f"two frames that a {preset} sends {pace}: {effect}; leave stale_after_s out "
        f"({default_s:g} s) or make it {2 * interval:g} s or more"
    )


#: How much longer than its working period an SDS011 may stay silent before it is stale: in
#: a working period the sensor sleeps, runs its fan for 30 s, and sends one frame.
WORKING_PERIOD_MARGIN_S = 60.0


def working_period_s(preset: str | None, setup: Sequence[str]) -> float:
    """The seconds between the data frames of an SDS011 whose set-up commands ``setup`` (all
    valid) set a working period of N > 0 minutes, the last one written: N * 60; 0 for a
    device that reports continuously, and for other presets."""
    if preset != "sds011":
        return 0.0
    minutes = 0
    for command in setup:
        name, _, number = command.partition("=")
        if name == "working_period":
            minutes = int(number)
    return minutes * 60.0


# -- the preset that fits the frames that came ---------------------------------------------------

#: The header of every Plantower frame: start bytes and the length of the bytes after it.
_PMS_HEADER = FrameSpec(start=b"\x42\x4d", length_offset=2, length_size=2)


def _layout_readers(length: int) -> tuple[str, ...]:
    """The Plantower presets that read frames of ``length`` bytes."""
    return tuple(
        name
        for name, kind in _KINDS.items()
        if kind == "pms" and PRESETS[name]["frame"]["length"] == length
    )


#: The data frames of each preset layout as the hint checks them (start bytes, for a
#: Plantower frame with its length field; length; end byte; checksum), and the presets that
#: read them.
_LAYOUTS: tuple[tuple[FrameSpec, tuple[str, ...]], ...] = (
    *(
        (
            FrameSpec(start=b"\x42\x4d" + (n - 4).to_bytes(2, "big"), length=n, checksum="sum16be"),
            _layout_readers(n),
        )
        for n in (32, 24, 40)
    ),
    (
        FrameSpec(start=b"\xaa\xc0", length=10, end=0xAB, checksum="sum8", checksum_start=2),
        ("sds011",),
    ),
    (FrameSpec(start=b"\xff\x86", length=9, checksum="twos8", checksum_start=1), ("mhz19",)),
)

#: How many whole frames of another preset's layout, their checksums good, the bytes must
#: hold for the hint to name that preset (one might be noise that happens to sum right).
FITTING_FRAMES = 2


#: Models that send the PMS5003's frames and have no preset of their name: the Sensor.Community
#: firmware lists the PMS1003 and PMS6003 among the sensors of 32-byte frames, apart from the
#: PMS3003's 24 (opendata-stuttgart/sensors-software, ``airrohr-firmware/intl_*.h``:
#: ``INTL_PMS32``, ``INTL_PMS24``), and ESPHome's pmsx003 component takes the PMS5003's
#: payload length from the PMS1003 and the PMS9003M (``check_payload_length_``).
_PMS5003_ALIKE = "a PMS1003, PMS6003 or PMS9003M"


def _presets_reading(names: Sequence[str], what: str) -> str:
    if len(names) == 1:
        return f'preset "{names[0]}" reads {what}'
    listed = ", ".join(f'"{name}"' for name in names)
    told = f"presets {listed} read {what}: the one of the model on the sensor's label"
    if "pms5003" in names:
        told += f' ("pms5003" for {_PMS5003_ALIKE}, which send the PMS5003\'s frames)'
    return told


def preset_hint(preset: str | None, data: bytes) -> str | None:
    """For a sensor whose frames do not come: the presets that read the frames in ``data``,
    when the configured ``preset`` (None: a sensor without one) does not. For a Plantower
    preset, the ones that read frames of the length the frames announce when it is not the
    preset's own (a PMS5003ST's 40-byte frames read with preset pms5003); for any sensor,
    the presets of a layout of which ``data`` holds :data:`FITTING_FRAMES` whole frames,
    checksums good (a PMS5003 read with preset sds011). Computed only when the sensor goes
    stale, or its hint is read again. None when nothing fits."""
    if preset is not None and _KINDS.get(preset) == "pms":
        n = announced_length(_PMS_HEADER, data)
        fitting = _layout_readers(n) if n is not None else ()
        if fitting and preset not in fitting:
            return _presets_reading(fitting, f"{n}-byte frames")
    for spec, readers in _LAYOUTS:
        if preset in readers:
            continue
        assert spec.length is not None
        if len(FrameFramer(spec, spec.length).feed(data)) >= FITTING_FRAMES:
            return _presets_reading(
                readers,
                f"the {spec.length}-byte frames starting {spec.start[:2].hex(' ')} in the bytes "
                "(their checksums good)",
            )
    return None


# -- a clone whose checksum is another variant ----------------------------------------------------

#: Where a checksum found in the frames of a preset's clone may begin: the frame's first byte,
#: its second (after a one-byte start), or after its start bytes.
_CLONE_COVER_STARTS = (0, 1, 2)


def _toml_value(value: Any) -> str:
    if isinstance(value, bytes):
        return "'" + "".join(f"\\x{b:02x}" for b in value) + "'"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _clone_checksum(
    candidates: Sequence[bytes], end: int, offset: int = 0, width_at: int = 0
) -> tuple[str, int] | None:
    """A checksum kind and the byte it covers from under which every one of ``candidates``
    (at least :data:`FITTING_FRAMES` frames) holds, its bytes last (before ``end`` end
    bytes), or at ``offset`` when given (negative: from each frame's end), where only the kinds of
    ``width_at`` bytes are tried; None when none does."""
    for kind, (_, width, _) in CHECKSUMS.items():
        if offset and width != width_at:
            continue
        for cover in _CLONE_COVER_STARTS:
            if all(_sum_holds(kind, cover, frame, end=end, offset=offset) for frame in candidates):
                return kind, cover
    return None


def _sum_holds(kind: str, cover: int, frame: bytes, *, end: int, offset: int) -> bool:
    """Whether a checksum of ``kind`` over ``frame`` from ``cover`` up to it, at ``offset``
    (0: last before an end byte), holds."""
    n = len(frame)
    width = CHECKSUMS[kind][1]
    sum_at = n - width - end if not offset else offset if offset > 0 else n + offset
    if not cover < sum_at <= n - width:
        return False
    return checksum(kind, frame[cover:sum_at]) == frame[sum_at : sum_at + width]


def reads_preset_frame(preset: str | None, frame: FrameSpec | None) -> bool:
    """Whether ``frame`` (a sensor's frame spec) is the frame spec of ``preset`` (its start,
    length and checksum): False for a sensor without a preset, or whose table gives a frame
    spec of its own."""
    own: Mapping[str, Any] | None = PRESETS.get(preset or "", {}).get("frame")
    return (
        frame is not None
        and own is not None
        and (frame.start, frame.length, frame.checksum, frame.checksum_start)
        == (own["start"], own["length"], own["checksum"], own.get("checksum_start", 0))
    )


def clone_checksum_hint(preset: str | None, frame: FrameSpec | None, data: bytes) -> str | None:
    """For a sensor of ``preset`` read with that preset's frame spec (``frame``: the sensor's,
    the preset's unless its table gives one) whose bytes ``data`` hold frames of the preset's
    start bytes and length, none of them with the preset's checksum: a clone's frames, whose
    checksum is another variant. The hint says so, and how to read them (a preset cannot be
    edited, but a ``frame`` table in the sensor's table replaces the preset's), with the
    preset's frame spec to copy (without its status check) and, when one variant holds over
    every frame, its checksum.
    Computed only when the sensor goes stale, or its hint is read again. None otherwise."""
    if preset is None or frame is None or not reads_preset_frame(preset, frame):
        return None
    own: Mapping[str, Any] = PRESETS[preset]["frame"]
    start, n = frame.start, own["length"]
    announced = announced_length(frame, data)
    if announced is not None and announced != n:  # frames of another length: not this
        return None
    candidates: list[bytes] = []
    at = data.find(start)
    while at >= 0 and at + n <= len(data):
        candidates.append(data[at : at + n])
        at = data.find(start, at + n)
    if len(set(candidates)) < FITTING_FRAMES:  # one may be noise that begins like a frame
        return None
    found = _clone_checksum(candidates, len(frame.end_bytes))
    # a clone's status byte need not be the genuine device's (the MH-Z19 "A" version's): its
    # frame table reads the values without that check
    spec = {key: value for key, value in own.items() if not key.startswith("status_")}
    own_sum = f"{own['checksum']} from byte {own.get('checksum_start', 0)}"
    if found is None:
        spec["checksum"] = "none"
        spec.pop("checksum_start", None)
        why = (
            "line noise or the serial settings spoil them, or they are a clone's whose "
            "checksum is another variant (some clones' frames are): to read such a clone, a "
            "preset cannot be edited, but keys the sensor's table gives replace the "
            "preset's, so a frame table of its own reads it, with the checksum its datasheet "
            'gives or checksum = "none" (no variant sensord knows holds over these frames; '
            "they are then read unchecked)"
        )
    else:
        spec["checksum"], spec["checksum_start"] = found
        why = (
            f"their checksum is another variant ({found[0]} from byte {found[1]} holds over "
            "every one), as some clones' frames are: a preset cannot be edited, but keys the "
            "sensor's table gives replace the preset's, so a frame table of its own reads them"
        )
    fields = ", ".join(f"{key} = {_toml_value(value)}" for key, value in spec.items())
    return (
        f"{len(candidates)} frames of {n} bytes starting {start.hex(' ')} came, and none holds "
        f"the {preset} preset's checksum ({own_sum}): {why}: frame = {{ {fields} }}"
    )


# -- a frame spec of its own with another checksum or length ------------------------------------


def _candidates(frame: FrameSpec, data: bytes, starts: Sequence[int]) -> list[bytes]:
    """The whole candidates of ``frame`` at ``starts`` in ``data``, none inside another (a
    start byte inside one is its data): of the fixed length, or of the length each one's
    length field gives (at most 4096 bytes, at least its header)."""
    out: list[bytes] = []
    taken_to = 0
    head = max(len(frame.start), frame.length_offset + frame.length_size)
    for at in starts:
        if at < taken_to:
            continue
        if frame.length is not None:
            n = frame.length
        elif frame.length_size and at + head <= len(data):
            lo = at + frame.length_offset
            field = data[lo : lo + frame.length_size]
            n = int.from_bytes(field, frame.length_byteorder) + length_base(frame)  # type: ignore[arg-type]
        else:
            continue
        if head < n <= 4096 and at + n <= len(data):
            out.append(data[at : at + n])
            taken_to = at + n
    return out


def _starts(start: bytes, data: bytes) -> list[int]:
    """Where ``start`` begins in ``data``, overlaps included."""
    found = []
    at = data.find(start)
    while at >= 0:
        found.append(at)
        at = data.find(start, at + 1)
    return found


def spec_mistake_hint(frame: FrameSpec | None, data: bytes) -> str | None:
    """For a sensor with a frame spec of its own (not a preset's) whose bytes ``data`` give
    no frame: what in the spec the bytes contradict, when they tell it. Candidates of its
    start bytes and length (fixed, or the one their length fields announce), at least
    :data:`FITTING_FRAMES` different ones, over every one of which another checksum variant
    holds than the spec's (a ``checksum_start`` one byte off, ``sum8`` for ``twos8``): that
    variant. Otherwise, for a fixed length without a length field, start bytes that recur at
    one spacing other than the length, :data:`FITTING_FRAMES` times or more: that spacing.
    Computed only when the sensor goes stale, or its hint is read again. None otherwise (the
    framer's hint is then the sensor's), and for a spec with byte stuffing."""
    if frame is None or frame.escape is not None:
        return None
    start = frame.start
    starts = _starts(start, data)
    n = frame.length if frame.length is not None else announced_length(frame, data)
    if len(starts) <= FITTING_FRAMES:
        return None
    where = f"starting {start.hex(' ')}"
    if frame.checksum in CHECKSUMS and frame.checksum_end is None:
        candidates = _candidates(frame, data, starts)
        own = functools.partial(
            _sum_holds,
            frame.checksum,
            frame.checksum_start,
            end=len(frame.end_bytes),
            offset=frame.checksum_offset,
        )
        if all(map(own, candidates)):  # the spec's own holds: what fails is elsewhere
            candidates = []
        found = (
            _clone_checksum(
                candidates,
                len(frame.end_bytes),
                frame.checksum_offset,
                CHECKSUMS[frame.checksum][1],
            )
            if len(set(candidates)) >= FITTING_FRAMES
            else None
        )
        if found is not None and found != (frame.checksum, frame.checksum_start):
            kind, cover = found
            lengths = sorted({len(c) for c in candidates})
            size = f"{lengths[0]}" if len(lengths) == 1 else f"{lengths[0]} to {lengths[-1]}"
            return (
                f"{len(candidates)} candidates of {size} bytes {where} came, and none holds the "
                f"frame spec's checksum ({frame.checksum} from byte {frame.checksum_start}): "
                f'{kind} from byte {cover} holds over every one, so checksum = "{kind}", '
                f"checksum_start = {cover} reads them (if the device's datasheet agrees)"
            )
    if n is None:
        return None
    if frame.length is not None and not frame.length_size:
        gaps = collections.Counter(b - a for a, b in itertools.pairwise(starts))
        gap, count = gaps.most_common(1)[0]
        # a length the layout can hold, between most of the starts (not a start byte that
        # noise repeats, nor one that a frame also holds at a fixed place)
        smallest = frame_length(dataclasses.replace(frame, length=None))
        if gap != n and gap >= smallest and 2 * count >= len(starts) - 1 >= FITTING_FRAMES:
            return (
                f"the start bytes {start.hex(' ')} recur every {gap} bytes ({count} of the "
                f"{len(starts) - 1} gaps between them), and the frame spec reads {n}-byte "
                "frames: if the "
                f"device's frames are {gap} bytes long, length = {gap} reads them"
            )
    return None


# -- why a device of a preset sends nothing ------------------------------------------------------


class _SilentCause(NamedTuple):
    """What leaves a preset's device silent on a port whose wiring is right, the set-up
    commands that bring it back, and what each follows (``brings``)."""

    cause: str
    setup: tuple[str, ...] = ()
    brings: str = "brings it back"


#: Preset kind -> what leaves its device silent, for the stale hint of a sensor that read no
#: byte (``silent_hint``).
_SILENT_CAUSES: Mapping[str, _SilentCause] = MappingProxyType(
    {
        "pms": _SilentCause(
            "a PMS whose SET pin is low sleeps and sends nothing (leave SET open or pull it "
            "high); one put to sleep or in passive mode by another program sends nothing "
            "until woken or asked",
            ("wakeup", "active_mode"),
        ),
        "sds011": _SilentCause(
            "an SDS011 keeps its query mode and working period through a power cycle and its "
            "sleep until one: one left asleep or in query mode by another program sends "
            "nothing, one on a working period of N minutes one frame every N minutes",
            ("work", "active_mode", "working_period=0"),
            "brings it back to a frame a second",
        ),
        "mhz19": _SilentCause(
            "an MH-Z19 sends only when asked: one that hears no request (its RX not on the "
            "adapter's TX) sends nothing"
        ),
    }
)

#: The PMS3003 takes no command: only its SET pin puts it to sleep.
_PMS3003_SILENT = _SilentCause(
    "a PMS3003 whose SET pin is low sleeps and sends nothing (leave SET open or pull it high)"
)


def _configured_as(kind: str, command: str, setup: Sequence[str]) -> str | None:
    """The command of ``setup`` that does what ``command`` of the silent hint does, or
    chooses otherwise on purpose: the reporting mode set either way (a device set to send
    only when asked is polled), a working period of any length; None when none does."""
    if command in setup:
        return command
    reporting = _REPORTING.get(kind)
    if reporting is not None and command == reporting.streaming and reporting.quiet in setup:
        return reporting.quiet
    name, _, _ = command.partition("=")
    if name != command:
        return next((c for c in reversed(setup) if c.partition("=")[0] == name), None)
    return None


def _quoted(commands: Sequence[str]) -> str:
    return ", ".join(f'"{command}"' for command in commands)


def silent_hint(
    preset: str | None,
    setup: Sequence[str] = (),
    acknowledged: Collection[str] = (),
    unanswered: Collection[str] = (),
) -> str | None:
    """What makes the device of ``preset`` send nothing on a port wired right (asleep, in a
    mode another program left it in), and the set-up that brings it back; None for a sensor
    without a preset. With the sensor's set-up commands ``setup`` (by name), only what it
    lacks is advised; what it has is said to be sent on every connect, with what this
    connect's set-up showed of it: the commands ``acknowledged``, those ``unanswered``, and
    the others (a command its device does not acknowledge) written."""
    kind = _KINDS.get(preset or "", "")
    silent = _PMS3003_SILENT if preset == "pms3003" else _SILENT_CAUSES.get(kind)
    if silent is None:
        return None
    if not silent.setup:
        return silent.cause
    have = {command: _configured_as(kind, command, setup) for command in silent.setup}
    missing = [command for command, given in have.items() if given is None]
    sent = [given for given in have.values() if given is not None]
    if not sent:
        return f"{silent.cause}: setup = [{_quoted(silent.setup)}] {silent.brings}"
    heard = [command for command in sent if command in acknowledged]
    unheard = [command for command in sent if command in unanswered]
    unacked = [command for command in sent if command_ack(preset, command) is None]
    shown = []
    if heard:
        shown.append(f"acknowledged: {_quoted(heard)}")
    if unheard:
        shown.append(f"not acknowledged: {_quoted(unheard)}")
    if unacked:
        shown.append(f"written, the device acknowledges no such command: {_quoted(unacked)}")
    told = f"{silent.cause}; its set-up sends {_quoted(sent)} on every connect"
    if shown:
        told += f" (on this one {'; '.join(shown)})"
    if missing:
        return f"{told}, but not {_quoted(missing)}: add {_quoted(missing)} to setup"
    return told
