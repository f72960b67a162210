"""The Plantower PMS5003T, PMS5003S and PMS5003ST presets: their word tables on recorded and
datasheet-layout frames, their simulated devices, and frames of the other length rejected.

Fixtures and their origins:

* PMS5003T: the ten frames recorded from a PMS5003T on 2021-02-02 by avaldebe/PyPMS
  (``tests/captured_data/data.csv``, rows ``PMS5003T``; the same bytes in
  ``PMS5003T.hexdump``), with PyPMS's decoding of them (``PMS5003T.csv``): temperature 21.2 to
  21.3 °C and relative humidity 22.2 to 22.4 %, words 11 and 12, where a PMS5003 sends its 5.0
  and 10 µm counts. Word 13 is ``9A 00`` in every frame.
* PMS5003ST: PyPMS's test message ``42 4D 00 24 ... 97 00 01 9E`` (its
  ``tests/sensor/test_sensor.py``, ``test_decode_error``: PM values 0/10/32, every other word 0
  but the 17th, ``97 00``), whose sum PyPMS's decoder accepts; and a frame laid out as the
  word table of :mod:`sensord.formats.presets` says, values chosen here (HCHO 25 µg/m³,
  -5.3 °C as the signed word ``FF CB``, 67.8 %), its sum computed by a loop of its own.
* PMS5003S: a frame laid out as that table says, values chosen here (HCHO 57 µg/m³ in word 13),
  its sum computed by the same loop. No recorded PMS5003S or PMS5003ST frame was found: PyPMS
  lists them as missing (its issue #2, "Sensor output samples in documentation").
* PMS3003: ``42 4D 00 14 ... 00 51 00 F4``, a 24-byte frame recorded by PyPMS (its
  ``data.csv``, rows ``PMS3003``: every concentration 0, the ninth word ``00 51``); and
  ``42 4D 00 14 00 1F 00 28 00 30 00 1A 00 24 00 2F 00 00 00 00 00 54 01 DB``, a frame quoted
  in the source comment of a public PMS3003 reader ("data packet length: 24 bytes"; PM2.5 at
  bytes 6-7, PM10 at 8-9), whose sum holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sensord import cli
from sensord.config import parse_config
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.frames import FrameFramer, announced_length
from sensord.formats.presets import PRESETS, PresetDevice, command_bytes, preset_hint
from sensord.sensor_source import make_device

#: PyPMS tests/captured_data/data.csv, sensor PMS5003T (recorded 2021-02-02).
PMS5003T_CAPTURE = [
    bytes.fromhex(row)
    for row in (
        "424d001c001700270029001600230029100804a90116000c00d400e09a0004aa",
        "424d001c0015002400240014002100240dc8041f00e4000e00d400e09a000599",
        "424d001c0015002500260014002200260f00046600fa001600d400e09a00053e",
        "424d001c00140023002a00130020002a0ea604370106001e00d400df9a0004ca",
        "424d001c0017002600260016002300260ee80462011e000e00d400e09a000544",
        "424d001c0016002500270015002200270efd045a0120001400d400df9a000556",
        "424d001c00160024002a00150021002a0eaf0456011a001600d400df9a000504",
        "424d001c00170025002d00160022002d0efd046f0124001600d500de9a00057f",
        "424d001c00150023002c00140020002c0eca045a011e001800d500de9a000529",
        "424d001c00140022002b00130020002b0e1304140110001e00d500df9a000420",
    )
]
#: PyPMS tests/captured_data/PMS5003T.csv: (temp, rhum) of the frames above, in order.
PMS5003T_DECODED = [
    (21.2, 22.4),
    (21.2, 22.4),
    (21.2, 22.4),
    (21.2, 22.3),
    (21.2, 22.4),
    (21.2, 22.3),
    (21.2, 22.3),
    (21.3, 22.2),
    (21.3, 22.2),
    (21.3, 22.3),
]
#: PyPMS's PMS5003ST test message.
PMS5003ST_PYPMS = bytes.fromhex(
    "424d00240000000a00200000000a002000000000000000000000000000000000000000009700019E"
)

PM_CHANNELS = [
    "pm1_0_standard_ug_m3",
    "pm2_5_standard_ug_m3",
    "pm10_standard_ug_m3",
    "pm1_0_ug_m3",
    "pm2_5_ug_m3",
    "pm10_ug_m3",
]
COUNT_CHANNELS = [
    "particles_0_3um_per_dl",
    "particles_0_5um_per_dl",
    "particles_1_0um_per_dl",
    "particles_2_5um_per_dl",
    "particles_5_0um_per_dl",
    "particles_10um_per_dl",
]
CHANNELS = {
    "pms5003t": [*PM_CHANNELS, *COUNT_CHANNELS[:4], "temperature_celsius", "humidity_percent"],
    "pms5003s": [*PM_CHANNELS, *COUNT_CHANNELS, "hcho_ug_m3"],
    "pms5003st": [
        *PM_CHANNELS,
        *COUNT_CHANNELS,
        "hcho_ug_m3",
        "temperature_celsius",
        "humidity_percent",
    ],
}
LENGTHS = {"pms5003t": 32, "pms5003s": 32, "pms5003st": 40}


def plantower_frame(words: list[int]) -> bytes:
    """``42 4D``, the length of what follows, the data words (big-endian, negative ones as two's
    complement) and the 16-bit sum of every byte before it, summed by a loop of its own."""
    body = b"".join((w % 65536).to_bytes(2, "big") for w in words)
    head = b"\x42\x4d" + (len(body) + 2).to_bytes(2, "big") + body
    total = 0
    for byte in head:
        total += byte
    return head + (total % 65536).to_bytes(2, "big")


PM_WORDS = [5, 7, 8, 5, 7, 8]
COUNT_WORDS = [918, 262, 44, 4, 2, 1]
PMS5003S_FRAME = plantower_frame([*PM_WORDS, *COUNT_WORDS, 57])
PMS5003ST_FRAME = plantower_frame([*PM_WORDS, *COUNT_WORDS, 25, -53, 678, 0, 0x9100])


def spec_of(preset: str) -> tuple[FormatSpec, int]:
    config = parse_config(f'[[sensors]]\nname = "s"\nport = "sim://s"\npreset = "{preset}"\n')
    sensor = config.sensors[0]
    return sensor.format_spec(), sensor.max_frame_bytes


def framer_of(preset: str) -> FrameFramer:
    spec, max_frame_bytes = spec_of(preset)
    assert spec.frame is not None
    return FrameFramer(spec.frame, max_frame_bytes)


def read(preset: str, stream: bytes) -> list[dict[str, float]]:
    spec, _ = spec_of(preset)
    decode = codec_for("frames").decoder(spec)
    return [dict(decode(frame)) for frame in framer_of(preset).feed(stream)]


# -- word tables ---------------------------------------------------------------------------------


def test_the_fixtures_are_whole_frames() -> None:
    assert PMS5003ST_FRAME[:4] == PMS5003ST_PYPMS[:4] == bytes.fromhex("42 4D 00 24")
    assert len(PMS5003ST_FRAME) == len(PMS5003ST_PYPMS) == 40
    assert PMS5003S_FRAME[:4] == bytes.fromhex("42 4D 00 1C")
    assert PMS5003ST_FRAME[30:32] == bytes.fromhex("FF CB")  # -53 tenths of °C


def test_a_recorded_pms5003t_capture_gives_temperature_and_humidity() -> None:
    readings = read("pms5003t", b"".join(PMS5003T_CAPTURE))
    assert len(readings) == 10
    assert readings[0] == {
        "pm1_0_standard_ug_m3": 23.0,
        "pm2_5_standard_ug_m3": 39.0,
        "pm10_standard_ug_m3": 41.0,
        "pm1_0_ug_m3": 22.0,
        "pm2_5_ug_m3": 35.0,
        "pm10_ug_m3": 41.0,
        "particles_0_3um_per_dl": 4104.0,
        "particles_0_5um_per_dl": 1193.0,
        "particles_1_0um_per_dl": 278.0,
        "particles_2_5um_per_dl": 12.0,
        "temperature_celsius": 21.2,
        "humidity_percent": 22.4,
    }
    assert [(r["temperature_celsius"], r["humidity_percent"]) for r in readings] == (
        PMS5003T_DECODED
    )


def test_a_pms5003t_read_with_the_pms5003_preset_is_why_the_model_is_named() -> None:
    """The T sends the PMS5003's header: its frames are whole PMS5003 frames, and the
    PMS5003 preset reads its temperature and humidity words as the 5.0 and 10 µm counts."""
    [reading] = read("pms5003", PMS5003T_CAPTURE[0])
    assert (reading["particles_5_0um_per_dl"], reading["particles_10um_per_dl"]) == (212.0, 224.0)


def test_a_pms5003s_frame_gives_formaldehyde_in_word_13() -> None:
    [reading] = read("pms5003s", PMS5003S_FRAME)
    assert list(reading) == CHANNELS["pms5003s"]
    assert [reading[c] for c in COUNT_CHANNELS] == [918.0, 262.0, 44.0, 4.0, 2.0, 1.0]
    assert reading["hcho_ug_m3"] == 57.0


def test_a_pms5003st_frame_gives_formaldehyde_and_a_signed_temperature() -> None:
    [reading] = read("pms5003st", PMS5003ST_FRAME)
    assert list(reading) == CHANNELS["pms5003st"]
    assert [reading[c] for c in PM_CHANNELS] == [5.0, 7.0, 8.0, 5.0, 7.0, 8.0]
    assert [reading[c] for c in COUNT_CHANNELS] == [918.0, 262.0, 44.0, 4.0, 2.0, 1.0]
    assert reading["hcho_ug_m3"] == 25.0
    assert reading["temperature_celsius"] == -5.3
    assert reading["humidity_percent"] == 67.8


def test_pypms_pms5003st_message_is_read() -> None:
    [reading] = read("pms5003st", PMS5003ST_PYPMS)
    assert [reading[c] for c in PM_CHANNELS] == [0.0, 10.0, 32.0, 0.0, 10.0, 32.0]
    assert reading["hcho_ug_m3"] == reading["temperature_celsius"] == 0.0


# -- the other length ----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["pms5003", "pms7003", "pmsa003", "pms5003t", "pms5003s"])
def test_a_40_byte_frame_is_rejected_by_the_32_byte_presets(preset: str) -> None:
    framer = framer_of(preset)
    assert framer.feed(PMS5003ST_FRAME + PMS5003ST_PYPMS) == []
    assert framer.rejected["syntax"] == 2
    spec, _ = spec_of(preset)
    with pytest.raises(ParseError) as error:
        codec_for("frames").decoder(spec)(PMS5003ST_FRAME)
    assert error.value.reason == "syntax"


def test_32_byte_frames_are_rejected_by_the_pms5003st_preset_and_its_frames_kept() -> None:
    framer = framer_of("pms5003st")
    stream = PMS5003T_CAPTURE[0] + PMS5003ST_FRAME + PMS5003S_FRAME + PMS5003ST_PYPMS
    assert framer.feed(stream) == [PMS5003ST_FRAME, PMS5003ST_PYPMS]
    assert framer.rejected == {"checksum": 0, "syntax": 2}
    assert framer.skipped_bytes == 64
    spec, _ = spec_of("pms5003st")
    with pytest.raises(ParseError) as error:
        codec_for("frames").decoder(spec)(PMS5003T_CAPTURE[0])
    assert error.value.reason == "syntax"


def test_the_announced_length_is_what_most_candidates_say_twice_or_more() -> None:
    frame = spec_of("pms5003")[0].frame
    assert frame is not None
    assert announced_length(frame, PMS5003ST_FRAME * 2 + PMS5003S_FRAME) == 40
    assert announced_length(frame, PMS5003ST_FRAME) is None  # one candidate says little
    assert announced_length(frame, PMS5003ST_FRAME * 2 + PMS5003S_FRAME * 2) is None
    assert announced_length(frame, b"\x42\x4d\x00") is None  # the length field incomplete


def test_the_preset_hint_names_the_plantower_preset_of_the_announced_length() -> None:
    stream = PMS5003ST_FRAME + PMS5003ST_PYPMS
    assert preset_hint("pms5003t", stream) == 'preset "pms5003st" reads 40-byte frames'
    assert preset_hint("pms5003st", stream) is None
    assert preset_hint("pms5003s", PMS5003S_FRAME * 2) is None
    # another family's preset, or none, is pointed at the frames' preset by their whole
    # frames (tests/test_frames_oncall.py), not by the length alone
    whole = 'preset "pms5003st" reads the 40-byte frames starting 42 4d in the bytes'
    assert preset_hint("sds011", stream) == f"{whole} (their checksums good)"
    assert preset_hint(None, stream) == f"{whole} (their checksums good)"
    assert preset_hint("sds011", PMS5003ST_FRAME) is None  # one frame says little
    pms3003 = bytes.fromhex("424d001400000000000000000000000000000000005100f4")
    assert preset_hint("pms5003", pms3003 * 2) == 'preset "pms3003" reads 24-byte frames'
    assert preset_hint("pms3003", pms3003 * 2) is None


def test_the_hint_of_32_byte_frames_names_pms5003_for_the_models_no_preset_is_named_after() -> None:
    """A PMS1003, PMS6003 or PMS9003M sends the PMS5003's 32-byte frames (the Sensor.Community
    firmware, opendata-stuttgart/sensors-software ``airrohr-firmware/intl_*.h``, lists
    ``INTL_PMS32`` "PMS1003, PMS5003, PMS6003, PMS7003" apart from ``INTL_PMS24`` "PMS3003";
    ESPHome's ``pmsx003.cpp`` ``check_payload_length_`` takes a payload of 28 from the PMS1003
    and the PMS9003M, as from the PMS5003). Such a sensor read with preset pms3003 (an older
    model's preset, as the 1003 may seem) is pointed at the presets of 32-byte frames, and,
    since no preset bears its model's name, at pms5003 by that name."""
    frame = plantower_frame([*PM_WORDS, *COUNT_WORDS, 0x8000])
    hint = preset_hint("pms3003", frame * 2)
    assert hint is not None
    assert hint.startswith('presets "pms5003", "pms7003", "pmsa003", "pms5003t", "pms5003s"')
    assert hint.endswith(
        'the one of the model on the sensor\'s label ("pms5003" for a PMS1003, PMS6003 or '
        "PMS9003M, which send the PMS5003's frames)"
    )
    # the 40-byte frames' hint names one preset, and no other model
    assert preset_hint("pms5003", PMS5003ST_FRAME * 2) == 'preset "pms5003st" reads 40-byte frames'


#: 24-byte PMS3003 frames (see the module docstring): PyPMS's, and a reader's source comment.
PMS3003_FRAMES = [
    bytes.fromhex("424d001400000000000000000000000000000000005100f4"),
    bytes.fromhex("424d0014001f00280030001a0024002f00000000005401db"),
]


def test_the_pms3003_preset_reads_recorded_24_byte_frames() -> None:
    framer = framer_of("pms3003")
    frames = framer.feed(PMS3003_FRAMES[0] + b"\x42" + PMS3003_FRAMES[1])
    assert frames == PMS3003_FRAMES
    assert framer.skipped_bytes == 1
    pm = [f"pm{size}_{kind}ug_m3" for kind in ("standard_", "") for size in ("1_0", "2_5", "10")]
    assert read("pms3003", PMS3003_FRAMES[0] + PMS3003_FRAMES[1]) == [
        dict.fromkeys(pm, 0.0),
        dict(zip(pm, [31.0, 40.0, 48.0, 26.0, 36.0, 47.0], strict=True)),
    ]
    # a PMS5003's 32-byte frames are not a PMS3003's
    assert framer_of("pms3003").feed(PMS5003T_CAPTURE[0] * 2) == []


def test_a_pms3003_takes_no_command() -> None:
    with pytest.raises(ValueError, match="no command") as raised:
        command_bytes("pms3003", "passive_mode")
    assert str(raised.value) == "pms3003 has no command 'passive_mode'; it takes no command"


# -- encoder and simulated devices ---------------------------------------------------------------


def test_a_negative_temperature_round_trips_through_the_encoder() -> None:
    spec, _ = spec_of("pms5003st")
    values = {name: 1.0 for name in CHANNELS["pms5003st"]}
    values.update(temperature_celsius=-12.3, humidity_percent=99.9, hcho_ug_m3=1234.0)
    [frame] = codec_for("frames").encoder(spec)(values, 0.0)
    assert frame[30:32] == (-123 % 65536).to_bytes(2, "big")
    assert read("pms5003st", frame) == [values]


@pytest.mark.parametrize("preset", sorted(CHANNELS))
def test_the_simulated_device_sends_frames_its_preset_reads(preset: str) -> None:
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "sim://s"\npreset = "{preset}"\n'
        "simulation = { seed = 3 }\n"
    ).sensors[0]
    device = make_device(config, 0.0)
    stream = b"".join(device.bytes_due(t + 0.5) for t in range(60))
    n = LENGTHS[preset]
    assert device.frames_written == 60
    assert len(stream) == 60 * n
    header = b"\x42\x4d" + (n - 4).to_bytes(2, "big")
    assert all(stream[i : i + 4] == header for i in range(0, len(stream), n))
    readings = read(preset, stream)
    assert len(readings) == 60
    for reading in readings:
        assert list(reading) == CHANNELS[preset]
        if "temperature_celsius" in reading:
            assert 18.0 < reading["temperature_celsius"] < 26.0
            assert 35.0 < reading["humidity_percent"] < 55.0
        if "hcho_ug_m3" in reading:
            assert 0.0 <= reading["hcho_ug_m3"] < 60.0


@pytest.mark.parametrize("preset", sorted(CHANNELS))
def test_the_simulated_device_answers_the_pms_commands(preset: str) -> None:
    assert PresetDevice(preset).receive(command_bytes(preset, "passive_mode")) == [
        bytes.fromhex("42 4D 00 04 E1 00 01 74")
    ]
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "sim://s"\npreset = "{preset}"\n'
    ).sensors[0]
    device = make_device(config, 0.0)
    device.receive(command_bytes(preset, "passive_mode"), 0.5)
    assert device.bytes_due(5.0)[-8:] == bytes.fromhex("42 4D 00 04 E1 00 01 74")
    device.receive(command_bytes(preset, "read"), 5.5)
    [reading] = read(preset, device.bytes_due(6.0))
    assert list(reading) == CHANNELS[preset]


# -- configuration -------------------------------------------------------------------------------


def test_check_accepts_the_presets_with_their_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "".join(
        f'[[sensors]]\nname = "{preset}"\nport = "sim://{preset}"\npreset = "{preset}"\n'
        'setup = ["wakeup", "passive_mode"]\npoll = { command = "read", interval_s = 2 }\n'
        for preset in sorted(CHANNELS)
    )
    path = tmp_path / "sensord.toml"
    path.write_text(text)
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert all(f"device {preset}: simulated" in out for preset in CHANNELS)
    for sensor in parse_config(text).sensors:
        assert sensor.poll_requests() == (bytes.fromhex("42 4D E2 00 00 01 71"),)
        assert [c.name for c in sensor.channels] == CHANNELS[sensor.name]
        assert sensor.warmup_s == 30.0


def test_every_pms_preset_is_listed() -> None:
    assert {name for name in PRESETS if name.startswith("pms")} == {
        "pms5003",
        "pms7003",
        "pmsa003",
        "pms3003",
        *CHANNELS,
    }
