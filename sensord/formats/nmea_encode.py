"""The encoder of ``format = "nmea"``: the sentences a simulated receiver or instrument sends,
written from the sentence table (:data:`~sensord.formats.nmea_fields.SENTENCES`), each slot
writing its own fields, and checksummed with :func:`~sensord.formats.nmea_framer.checksum`.

The encoder fills the fields no channel asks for with plausible values, prints
numbers with three decimals and coordinates as ``ddmm.mmmmm``, and sends one sentence per
sentence type the channels need (XDR sentences of up to four transducers, as many as fit in
the 82 characters NMEA 0183 allows a sentence, ``$`` to line end, and at least one, each
quadruple's unit field the first of its channel's ``units``, else empty; one GSA per
constellation the channels name, with its system ID; one group of GSV sentences per
constellation, with its talker, its satellites numbered within it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date

from sensord.formats.base import Encoder, FormatSpec
from sensord.formats.nmea_fields import EPOCH_ORDINAL, SENTENCES, TRUE_WIND, WRITTEN, Transducers
from sensord.formats.nmea_framer import checksum
from sensord.formats.text import unique_fields

__all__ = ["encoder"]


#: The encoder's date when it runs on the seconds since midnight of the Encoder contract:
#: 2025-01-01, in Unix seconds.
_SIMULATED_DAY_S = (date(2025, 1, 1).toordinal() - EPOCH_ORDINAL) * 86400.0


#: The first and last second, in Unix seconds, of a receiver's clock that the decoder reads
#: as a clock offset: from GPS week 1 (a date before it is a power-up default) to the end of
#: the years an RMC's two-digit year holds (2079). A simulated ``clock_offset`` that takes
#: the receiver's clock further is sent as the nearest of them.
_SIMULATED_CLOCK_S = (
    (date(1980, 1, 13).toordinal() - EPOCH_ORDINAL) * 86400.0,
    (date(2080, 1, 1).toordinal() - EPOCH_ORDINAL) * 86400.0 - 1.0,
)


#: The most characters of a sentence's address and fields: NMEA 0183 (4.10, section 5.3)
#: allows a sentence 82 characters from ``$`` to the line end, which are these, ``$``, ``*hh``
#: and CR LF.
_MAX_BODY = 82 - 1 - 3 - 2


#: The most groups (XDR's transducers) one sentence carries, as instruments send them.
_GROUPS_PER_SENTENCE = 4


def _grouped(address: str, texts: list[str], group: int) -> Iterator[str]:
    """The bodies of the sentences that carry ``texts`` (whole groups of ``group`` fields)
    after ``address``: up to :data:`_GROUPS_PER_SENTENCE` groups in each, as many as fit in
    :data:`_MAX_BODY` characters, and at least one."""
    body, groups = address, 0
    for i in range(0, len(texts), group):
        part = ",".join(texts[i : i + group])
        if body != address and (
            groups == _GROUPS_PER_SENTENCE or len(body) + 1 + len(part) > _MAX_BODY
        ):
            yield body
            body, groups = address, 0
        body += "," + part
        groups += 1
    if body != address:
        yield body


def _sentence_writer(
    sentence: str, fields: tuple[str, ...], units: Mapping[str, str]
) -> Callable[[Mapping[str, float], float], list[str]]:
    """The bodies (address and fields, no ``$`` or checksum) of one sentence type; ``t_s`` is
    the receiver's clock in Unix seconds. ``units`` gives an XDR field the text of its
    quadruple's unit field.

    A sentence type written per constellation is written once for each constellation the
    fields name (GPS when they name none), its slots reading ``<name>_<constellation>`` as
    ``<name>`` and the constellation's system ID as ``system``."""
    layout = SENTENCES[sentence]
    prefix = f"{sentence}."
    writers = [
        slot.writer_in(prefix, fields, units)
        if isinstance(slot, Transducers)
        else slot.writer(prefix, fields)
        for slot in layout.slots
    ]
    per_sentence, group = layout.fields_per_sentence, layout.group_fields
    # each sentence written: its address, renames (generic name -> own) and the values it adds
    # (the system ID of a constellation, the reference of the true wind)
    address = layout.talker + sentence
    passes: list[tuple[str, dict[str, str], dict[str, float]]] = [(address, {}, {})]
    if layout.constellations is not None:
        bases = [base for slot in layout.slots for base in slot.per_constellation]
        named = [c for c in WRITTEN if any(f"{prefix}{b}_{c}" in fields for b in bases)]
        passes = []
        for constellation in named or ["gps"]:
            talker, system = WRITTEN[constellation]
            own_talker = talker if layout.constellations == "talker" else layout.talker
            renames = {prefix + b: f"{prefix}{b}_{constellation}" for b in bases}
            passes.append((own_talker + sentence, renames, {prefix + "system": float(system)}))
    if layout.references:
        true_names = [n for slot in layout.slots for n in slot.names if n.startswith(TRUE_WIND)]
        if any(prefix + name in fields for name in true_names):
            renames = {prefix + name.removeprefix(TRUE_WIND): prefix + name for name in true_names}
            relative = [
                f for f in fields if f.startswith(prefix) and f[len(prefix) :] not in true_names
            ]
            passes = passes[: 1 if relative else 0]
            passes.append((address, renames, {prefix + "reference": 1.0}))

    def write(values: Mapping[str, float], t_s: float) -> list[str]:
        bodies: list[str] = []
        for address, renames, extra in passes:
            own = values
            if renames:
                own = {**values, **extra}
                own.update((b, values[name]) for b, name in renames.items() if name in values)
            texts = [address]
            for writer in writers:
                texts += writer(own, t_s)
            if group is not None:
                bodies += _grouped(address, texts[1:], group)
            elif per_sentence is None:
                bodies.append(",".join(texts))
            else:
                bodies += (
                    ",".join([address, *texts[i : i + per_sentence]])
                    for i in range(1, len(texts), per_sentence)
                )
        return bodies

    return write


def encoder(spec: FormatSpec) -> Encoder:
    """The encoder. Its receiver clock is the seconds since midnight of 2025-01-01; with a
    ``clock_offset`` field, it is the host's wall clock plus that field's value, as a receiver
    whose clock is that far from the host's (within the years an RMC's date holds). An XDR
    quadruple's unit field is the first of its channel's ``units``, else empty."""
    fields = tuple(unique_fields(spec))
    own_units = dict(spec.channel_units)
    units = {field: own_units[ch][0] for ch, field in spec.fields if own_units.get(ch)}
    sentence_types = dict.fromkeys(field.partition(".")[0] for field in fields)
    writers = [_sentence_writer(sentence, fields, units) for sentence in sentence_types]
    clock_fields = [field for field in fields if field.endswith(".clock_offset")]

    def encode_nmea(values: Mapping[str, float], t_s: float) -> list[bytes]:
        receiver_s = t_s + _SIMULATED_DAY_S
        for field in clock_fields:
            if field in values:
                first, last = _SIMULATED_CLOCK_S
                receiver_s = min(last, max(first, time.time() + values[field]))
                break
        frames: list[bytes] = []
        for write in writers:
            for body in write(values, receiver_s):
                data = body.encode("ascii")
                frames.append(b"$%s*%02X" % (data, checksum(data)))
        return frames

    return encode_nmea
