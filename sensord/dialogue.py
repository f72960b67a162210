"""The dialogue with one sensor's device: set-up commands, their acknowledgements, polls.

A ``Dialogue`` belongs to one ``sensord.sensor.SensorRuntime``, which calls it from the reader
loop's thread at a few points: when the port opened (``opened``), on each tick (``tick``),
with each chunk while a set-up command's reply is awaited (``take_replies``, which the
dialogue sets on the sensor for that time only), when frames come (``awaiting_response``,
``back_from_stale``), when the sensor is stale (``rerun``), for the loop's next deadline
(``next_deadline``), and for the snapshot's counters. What it needs of the sensor, its port
above all, is a ``DialoguePort``.

Set-up commands are written after every open, one at a time: the first by the first tick
the sensor's ``connect_delay_s`` after the open (a device the open restarts takes no command
while it boots; what it sends meanwhile is read as always),
each next one :data:`SETUP_GAP_S` after the one before was acknowledged (or, for a command the
device does not acknowledge, was written), and the first poll that long after the last, since
the small sensors that take such commands miss one that follows another within tens of
milliseconds. The reply of a command whose device acknowledges it (``sensord.formats.acks``) is
taken out of the byte stream before the framer while it is awaited. When it has not come
:data:`ACK_TIMEOUT_S` after the command was written, the command is written again and its
reply awaited twice as long as before, :data:`SETUP_TRIES` writes in all (at 0, 1 and 3 s,
the last awaited until 7 s): a device that was busy or had just been powered ignores a
command now and then, and a command it never took leaves it measuring its own way for as long
as it runs. A reply to any of the writes acknowledges the command. A reply that does not
acknowledge its command (``wrong``), or none after the last write (``missing``), is counted
in ``setup_ack_errors`` once per command and connect (re-runs: below), and logged at most
once a minute per command and reason, naming the command. A reply that comes after the wait
for it ended (within :data:`LATE_REPLY_S` of its end: an SDS011 answers "about a second" after
a command, past a wait of 1 s now and then) is taken out of the stream as one within the wait
is, and ends the first bytes' check after the open as one does (``sensord.sensor_first_bytes``),
never read as data nor counted as noise; one that acknowledges the command tells that the
device took it (``acknowledged``, and no command it ignores), its ``missing`` counted as the
wait had it. A command without acknowledgement is written once.
A command that stores a setting the device keeps in a memory each write wears (the SDS011's
reporting mode and working period, ``sensord.formats.presets.command_query``) is asked for
first: the query is written, retried and counted as a command is, and its reply tells the
setting in force. The same, and the command is done without a write; another, and the
command is written :data:`SETUP_GAP_S` later, its acknowledgement awaited as any other's. A
query that gets no reply after its last write is counted ``missing``; the setting in force is
then not known, and the command is written :data:`SETUP_GAP_S` later all the same, as one
without a query is: its acknowledgement awaited, the command written again while none comes,
and a ``wrong`` one counted (a ``missing`` one is not counted again: the query's was). So a
unit whose replies to queries are lost (some libraries report irregular replies from a unit
in active mode, which streams a frame a second between them) is set up as it was before it
was asked, and the memory is written only when the query could not tell the setting in force.
A run for a stale device (a re-run, or the connect of a connection opened again for its
silence) writes no command whose query went unanswered: a unit that hears while its replies
are lost would have its memory written at every re-run. The command is counted unanswered,
and once the device sends, the set-up runs again (``_check_ignored``), the query first.
A device that answered neither a setting's query nor the command written for it (six writes
over 14.1 s) and sent no byte since the query was first written answers nothing: it is off,
its TX or RX is not on the adapter, the port is another device's, or it is asleep (an SDS011
left asleep answers its wake command alone). That is logged (``the device answers nothing``,
with the port, at most once a minute), and from then on, while no byte comes, every set-up
write of the connect is written once, its reply awaited :data:`ACK_TIMEOUT_S` (a query, then
its command when it goes unanswered; a wake command after the settings still goes out): a
device that hears answers within tens of milliseconds, so the retries, meant for one busy
for a moment, would only hold back the first poll (for the SDS011's two settings, 16.4 s
after the open rather than 28.4 s). A byte from the device ends it, and each connect starts
with every write's three tries again.
The writes go out from ``tick``, on the reader loop's timers (``next_deadline``). Data frames
around the replies are read as always.

A device with its own power supply behind a USB-UART adapter that stays plugged in can be
power-cycled while its port stays open: it comes back as it powers up (an SPS30 idle until
started, a PMS streaming in active mode) and no connect writes its set-up again. So the set-up
is run again, while the port stays open, when

* the sensor goes stale (no frame for ``stale_after``, a polled device's polls unanswered as
  long), and again while it stays stale (not a polled PMS whose set-up does not wake it: a
  stale PMS is unpowered or asleep and takes no ``passive_mode``, and one powered anew
  streams, which sets it up again below, while a run written as its supply comes back would
  set it passive before that stream told the power-up); for a device that answers its poll
  whenever it is powered (a polled MH-Z19, ``sensord.formats.presets.answers_when_powered``:
  no command ends its silence, and its commands write its EEPROM) instead once, when it
  answers again after a stale spell in which it left :data:`SILENT_POLLS` polls in a row
  unanswered and sent no byte (``answers_again``: its supply may have been cut), and, as its
  set-up stores its setting (``sensord.formats.presets.stores_setting``), when that spell
  left no frame for :data:`SILENT_S` or its first answer reads 0 (a boot's answers run it
  too: ``booting``), not after one in which the rest of its spoilt answers came (a line that
  drops bytes), nor after the shorter ones a line that loses answers leaves a fast-polled
  unit; or
* a device whose set-up leaves it sending only when asked (PMS ``passive_mode``, SDS011
  ``query_mode``, with their poll) sent more than one frame between two polls, or a frame
  that answered no poll (one that came after the poll's answer, or, of a PMS, later than
  ``ANSWER_WITHIN_S`` after the poll when not a byte answers the next poll or the
  interval before held such a frame: a PMS left streaming in its stable mode, a frame every
  2.3 s, sends one frame or none between polls 2 s apart, each later after its poll until
  one comes after the next poll, which it leaves without a byte, and the interval after that
  poll holds no late reply of it), in two poll intervals running, or, of a PMS polled faster
  than its slowest stream (a frame every 2.3 s), in two with fewer intervals between them
  than that stream leaves between two frames (polled faster than ``FAST_POLLS_S``, a
  frame past the polls that a late answer followed by a lost one may leave counts once such
  frames run at a steady beat: ``UnaskedFrames.polled``) (polled every 0.5 s, it leaves four
  between two frames that came unasked, each poll answered, when it answers its read request
  while it streams, which no datasheet rules out; one that does not answer it and streams at
  the pace of the polls is told by its set-up, below, or as its frames drift past them): the
  late reply of a poll whose answer had not come is no frame sent unasked (a PMS's answers
  come past the next poll now and then, polls running too, each one answer behind; not of
  the polls before 2 s of polls each answered in time by a frame alone: ``frames_came``),
  and a PMS's answers late now and then, several polls running too, each
  came before the next poll, or, past it, with a late reply after it (polled faster than
  ``FAST_POLLS_S``, a late answer between two the line lost counts as a frame sent
  unasked: such a re-run's line says so, and ``request_hint`` tells it in ``/status``); or
* of such a polled device, the command that makes it send only when asked got no reply to
  its last write, and its frames went on after that write (of an SDS011, a frame later than
  ``TAKEN_WITHIN_S`` after it; of a PMS, a frame later than ``ANSWER_WITHIN_S``
  after it whose stream did not stop before the wait's end, and that came later than a PMS
  that takes a command late may still send one, or was followed by another before the first
  poll: ``UnaskedFrames.streamed``): it
  streams on, having ignored the command (a clone that takes no command, streaming at the
  pace of its polls, leaves one frame in each poll interval, soon after its poll, as an
  answer would; a device that took the command sends none unasked after it but those it had
  begun or an adapter held, which come at once, and, of an SDS011, which takes it at its
  once-a-second cycle, the frame of that cycle; a PMS in its stable mode may leave one frame
  alone in the wait, and puts it there later than that, as may a PMS that took the command
  up to 2 s late, whose frames stop there). Told at the
  end of the wait for that reply, 7 s after the command was first written, or at the frame
  before the first poll that tells it (a warning with
  the command and the poll, once a minute, and past a spell's third find only its 4th, 8th,
  16th ...: ``UnaskedFrames.streams_on``), and set up again once the wait
  after that run allows, at the end of a poll interval; each such re-run that finds it
  streaming on brings the next, the waits doubling; or
* a device sent a frame of its boot (``frame.boot_bytes``): once a frame without them comes,
  without the wait below (``rerun(wait=False)``). A boot that begins within
  :data:`COMMAND_RESTART_S` (and a poll interval) of the acknowledgement of a set-up
  command after which the
  device restarts (MH-Z19 ``range``, ``sensord.formats.presets.restarts_device``), or of
  the end of the wait for an acknowledgement that did not come from a device that was
  answering when the command went out (the MH-Z19B's datasheet gives ``range`` no reply,
  and such a device restarts all the same; one that had sent no frame since the port
  opened, or was stale, may not have been powered, and boots as it powers up), is that
  command's doing
  (``restarted_by_setup``): its re-run writes the other commands (the boot undid them), not
  that one, which has taken and would restart the device again, for ever.

Whether such a polled device sends unasked (the second and third cases above) is judged by
``UnaskedFrames`` (``sensord.dialogue_unasked``), whose constants those are
(``ANSWER_WITHIN_S``, ``FAST_POLLS_S``, ``TAKEN_WITHIN_S`` ...); the dialogue tells it of its
set-up runs and polls, and runs the set-up again when it asks.

A re-run that writes the preset's wake command (PMS ``wakeup``, SDS011 ``work``) tells the
sensor (``woken``), which warms up again: a device just woken sends unsettled readings. So
does a PMS set to passive mode when a frame comes after a poll's answer (``frames_came``: it
streams, as after any power-up; ``streams_anew``), at once, not at the re-run two poll
intervals later, which would publish the frames of its fan spinning up.

A run starts no sooner than a wait after the run before it ended: ``stale_after`` after the
connect's run, twice as long after each re-run, up to :data:`RERUN_MAX_WAIT_S` (or
``stale_after``, when longer), so a dead device costs one set-up run per wait, not one per
poll. The wait starts over at ``stale_after`` when frames come again after the sensor was stale
(its next loss is set up again as soon as it is stale), and, after re-runs for frames nobody
asked for, once the polls have been answered one frame each for a whole wait. A network
connection opened again for its silence (``SensorRuntime._check_silence``) keeps the wait: its
connect's run is written, and the re-runs between such connects go on doubling; its
commands' ``missing`` or ``wrong`` count as on a re-run. A re-run
begins :data:`SETUP_GAP_S` after it is due (a poll may just have gone out); polls pause while
it is under way and go on :data:`SETUP_GAP_S` after its last command. Each re-run is counted
(``setup_reruns``) and logged once, with why (those after a frame of the boot at most
once a minute, with the runs held back as ``suppressed``). A command's ``missing`` or
``wrong`` is counted on each connect, and on a re-run (or a connect after a silent
connection) only when the command was acknowledged since it was last counted: a device that
stays silent adds re-runs and reconnects, not ``missing`` errors, each time. A re-run for a
stale device, the run of a connection opened again for its silence, or the connect's run to a
device that streams (no poll) and sent no byte since the open (asleep, or not powered yet),
or to a polled one whose first frame comes after a poll it left unanswered after that run
(it was as silent to its polls: an SDS011 asleep at the open and woken before it is stale)
or, of a preset that has a sleep (PMS, SDS011), that sent no byte since the open (asleep, and
woken by another program or by the set-up's own wake command before its first poll was
answered),
that got no reply and no byte is written again once the device answers (``_check_ignored``;
an SDS011 asleep at the open answers neither queries nor settings, and streams as its flash
holds once it is woken; a command that the run its first frame starts misses again is one
it ignores, logged as such), a command it never
acknowledges as well (a clone MH-Z19's ``abc_off``, lost with its supply as a genuine unit's
is); when it answers with a frame of its boot, by the run after the boot (``booting``). A
replayed capture is never set up again.

A poll request is written every poll interval once the set-up is done, or without a set-up from
``connect_delay_s`` after the open (several requests in turn, one each interval); one that no
frame answered before the next is counted in ``poll_timeouts``, and logged with the request.
:data:`SILENT_POLLS` of them in a row tell the sensor (``went_silent``) that the device may
have lost its supply: it warms up again when it answers, when no frame came for :data:`SILENT_S`
(a line that loses answers leaves shorter silences; a shorter cut leaves another sign) or the
answer reads 0 in every field (an SDS011's fan spinning up). Not of a device whose set-up gives it
a working period (an SDS011's ``working_period=N``, N > 0, in query mode): it sleeps between
its 30 s runs and ignores queries meanwhile (mkfrey/sds011-esp-raw, docs/behaviour.md:
"Commands sent to the sensor while it is in sleep mode are ignored, except for wakeup
commands"), so its polls go unanswered most of each period by design: neither counted in
``poll_timeouts`` (half of them or more, which the poll-timeout alert would tell as a fault)
nor logged (it goes stale, and is told so, when it misses its period by more than a minute),
and no silence (a warm-up of each wake would hold its whole run, and the rule that no
second warm-up comes before a reading was published held every other one). Its fan starts
with each run, and the answers of a run's first :data:`RUN_SETTLE_S` (from its first
answer, the one to the first poll after those its sleep left unanswered, polls spanning
:data:`RUN_SETTLE_S` or more, half its shortest sleep: an answer or a few lost within a run
are no sleep) are read, counted as ignored and not published, without a log line
(``DialoguePort.run_began``; ``warmup_s`` of them when that is shorter, none when it is 0, as
no warm-up is longer than the sensor's table allows), when it is polled often enough that an
answer comes after them within its 30 s run (every 7.5 s or more often: the first answer may
come a poll interval into the run); the rest of each run's answers are published. A reopen
of its port or a reload that changes its sensor during such a hold leaves it to its end,
quietly: the fan spins up whatever the port does; and the first poll answered after an open
begins a hold as a run's first answer does (``_run_unknown``: the device may have slept
through the open and its set-up, and its first answer be a run's first; one awake mid-run
has the rest of that run's answers held). A poll answered with
the device's answer spoilt on the line, its frame not whole but its check holding over what came (an
MH-Z19's answer that lost its first byte, or a passive PMS's frame that lost a start byte,
``sensord.formats.presets.spoilt_answer_check``), is
counted in ``poll_timeouts`` and logged with the bytes (``spoilt_answer``), not read, and ends
the count as an answer does: the device was powered. One that is, made whole, an answer of the
device's boot (an MH-Z19's 15000 in bytes 6..7, its first byte lost as its supply came back)
tells the sensor that the device restarted (``spoilt_boot``), as a boot answer that came whole
does: a single poll may find it booting, and without it the restart would go unseen. Of several
requests, one the device has not answered since the port opened while it answered another is
not counted there: a request it does not serve says nothing of its supply, and a single answer
lost next to it would pass for a silence. One left unanswered ``UNANSWERED_HINT_POLLS`` times
in a row while the device answers another is told in ``request_hint``
(``sensord.dialogue_requests``); so is one refused as many times in a row (answered only with
frames whose status byte the spec's check rejects, which the sensor tells by ``refused``) while
the device answers another with a frame it takes, with the status it got back (and, for one it
took before since the port opened, as refused in the device's present state, not for want of
the command). A device that refuses every request is told by the sensor's hint of frames that
are all rejected (``sensord.rejects``), which names the status byte as the cause.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from structlog.typing import FilteringBoundLogger

from sensord.capture import CaptureRing
from sensord.config_sensor import SensorConfig
from sensord.dialogue_requests import PollRequests
from sensord.dialogue_unasked import UnaskedFrames
from sensord.errors import ACK_ERROR_REASONS, SourceError
from sensord.formats import codec_for
from sensord.formats.base import Framer
from sensord.log import RateLimiter, shown
from sensord.sources.base import Source

if TYPE_CHECKING:  # loaded by the first set-up command that expects a reply
    from sensord.formats.acks import Ack, AckWatch

__all__ = [
    "ACK_TIMEOUT_S",
    "COMMAND_RESTART_S",
    "LATE_REPLY_S",
    "RERUN_MAX_WAIT_S",
    "RUN_S",
    "RUN_SETTLE_S",
    "SETUP_GAP_S",
    "SETUP_TRIES",
    "SILENT_POLLS",
    "SILENT_S",
    "Dialogue",
    "DialoguePort",
]

#: How long the first write of a set-up command awaits its acknowledgement (the devices answer
#: within tens of milliseconds at 9600 baud); each next write of it awaits twice as long.
ACK_TIMEOUT_S = 1.0

#: How long after its wait ended a set-up command's reply is still taken for a late one: taken
#: out of the byte stream as a reply within the wait is (and, as one, the end of a cut line or
#: frame's check after the open, ``sensord.sensor_first_bytes``), never read as data or
#: counted as noise, and acknowledging the command in ``acknowledged`` (its ``missing`` stays
#: counted). An SDS011 "typically takes about a second" to answer a command (timorme/sds011lib,
#: docs/understanding.md, whose readers sleep 1 s after each), so a reply to a write awaited
#: :data:`ACK_TIMEOUT_S` (every write while the device answers nothing) may come just past
#: that wait; a wait as long again covers it. Tasmota's ``xsns_20_novasds.ino`` timed out on
#: such replies "quite frequently" at 150 ms and at 250 ms (arendst/Tasmota issue #9747; its
#: log shows no reply after a timeout, so not how late they came). In active mode the same
#: page has a unit answer a command "eventually", after data frames: later than this, such
#: a reply is no command's; an SDS011's is taken out as one nobody awaits (counted with the
#: frames read without readings, ``Dialogue.unasked_replies``), another device's reaches the
#: framer and is counted as skipped bytes.
LATE_REPLY_S = ACK_TIMEOUT_S

#: How many times in all a set-up command whose acknowledgement does not come is written (once
#: while a device that answered neither a setting's query nor its command sends nothing: see
#: the module docstring).
SETUP_TRIES = 3

#: The quiet time after a set-up command (after its acknowledgement, when it has one) before
#: the next command or the first poll: the PMS, SDS011 and MH-Z19 sensors ignore a command
#: that follows the one before too closely.
SETUP_GAP_S = 0.1

#: The longest wait between two runs of the set-up commands while the port stays open (see
#: the module docstring): a dead device costs one run every five minutes at most.
RERUN_MAX_WAIT_S = 300.0

#: How long after the device took a set-up command that restarts it (MH-Z19 ``range``,
#: acknowledged, or its acknowledgement awaited in vain from a device that was answering) a
#: frame of its boot is taken for that command's doing, a poll interval more for a polled
#: device: it answers with its boot's frames from the first poll it answers once it is up
#: (the one that follows the set-up's last command may find it restarting still).
COMMAND_RESTART_S = 30.0

#: How long an SDS011 on a working period runs its fan before it sleeps again ("work 30
#: seconds and sleep n*60-30 seconds", Laser Dust Sensor Control Protocol V1.3).
RUN_S = 30.0

#: How long after the first answer of such a run its answers are those of a fan not settled
#: yet: read, counted as ignored, not published (``DialoguePort.run_began``). "The recommended
#: warm up time for the SDS011 is 30 seconds. This time is needed to get a constant airflow
#: after startup ... We use 15 seconds in our project luftdaten.info" (ricki-z/SDS011 issue
#: #23; the airrohr firmware reads it 15 s after starting it); in active reporting on a
#: working period the sensor sends its one frame at the end of its run.
RUN_SETTLE_S = 15.0

#: How many poll requests in a row no frame answers before the device counts as silent, one
#: that may have lost its supply (``DialoguePort.went_silent``). A device answers within tens
#: of milliseconds (an MH-Z19's 9 bytes take 9.4 ms at 9600 baud), so a poll unanswered by the
#: next one, a poll interval later, was not heard or not answered. One such poll is what a
#: single exchange spoilt on the line looks like, and says nothing of the device; two running
#: are a device that heard or said nothing for a whole poll interval (5 s for the MH-Z19
#: preset), which a supply cut that spans a poll gives, and which its warm-up must then follow
#: (the MH-Z19B's preheat, 3 minutes by its datasheet, starts again at every power-up). A cut
#: between two polls leaves none unanswered: only the device's boot answers tell it then.
#: Of several requests, one the device has not answered since the port opened while it
#: answered another is left out of the count (a request its firmware does not serve). A poll
#: answered with the device's answer spoilt on the line (an MH-Z19's that lost its first
#: byte, its checksum holding over the rest) is no silence: the device was powered.
SILENT_POLLS = 2

#: How long a silence of :data:`SILENT_POLLS` polls or more (from the device's last frame
#: before it to its first after it) must last for the device to warm up again when it
#: answers (``SensorRuntime._silence_ended``): shorter, it is what a line that loses answers
#: leaves, and a supply cut that short leaves another sign. Measured on the code with the
#: test responders (a real pty, the injected clock, answers lost at random): a PMS polled
#: every 0.2 s, one answer in five lost, left two polls running unanswered about once every
#: 35 s and warmed up again each time, 30 s of readings held (104 warm-ups an hour, 88 % of
#: its readings), at 1 s polls 54 an hour; to leave 10 s without a frame at 1 s polls the
#: line must lose nine answers running (about once in 700 hours at one in five), at 0.5 s
#: nineteen. A cut shorter than that leaves its mark otherwise: a PMS streams in active mode
#: after any power-up ("Default mode is active after power up", its data manuals:
#: ``DialoguePort.streams_anew``); an MH-Z19 answers with its boot's answers (15000 in bytes
#: 6..7: Tasmota's and ESPEasy's MH-Z19 drivers, "During (and only ever at) sensor boot"),
#: for seconds after a power-up (arendst/Tasmota issue #7290: an MH-Z19B powered with the
#: host had given no reading 4 s later, 410 ppm 24 s later: ``sensord.boots``); an SDS011
#: keeps query mode through the cut (Laser Dust Sensor Control Protocol V1.3: "The setting is
#: still effective after power off") and its first answers read 0 in both fields while its
#: fan spins up (ESPHome's ``sds011.cpp``: "not yet any valid data"), which warms it up after
#: a shorter silence too. Two polls of the presets' own pace (an MH-Z19 every 5 s) span it.
SILENT_S = 10.0

#: What a reply to a command that no command of the daemon awaits says.
UNASKED_REPLY_HINT = (
    "the device answered a command the daemon did not write, or one it wrote later than the "
    "daemon waits for a reply: another program on the line (a second reader of the port, a "
    "tool run by hand) may be sending it commands; the reply is read as no data, counted in "
    "sensord_frames_ignored_total"
)

#: Why a device that sends did not acknowledge a set-up command.
IGNORED_COMMAND_HINT = (
    "the device sends, but did not answer the command: a clone or a firmware that ignores "
    "it or answers it otherwise (the capture shows what came); readings go on, and the "
    "command's setting may not be in force"
)

#: What a poll answered with the device's answer spoilt on the line says (``spoilt_answer``:
#: the bytes that came; ``sensord.formats.presets.spoilt_answer_check``).
SPOILT_ANSWER_HINT = (
    "the device answered, but the line lost or damaged a start byte of its answer (the rest "
    "came whole, its checksum holding): this poll's reading is lost, and the device is powered (it "
    "does not warm up again); if it recurs, check the cable (its length, the ground shared "
    "with the adapter) and the adapter"
)

#: What a poll answered with an answer of the device's boot spoilt on the line says (an
#: MH-Z19's 15000 in bytes 6..7: ``DialoguePort.spoilt_boot``).
SPOILT_BOOT_ANSWER_HINT = (
    "the device answered with an answer of its boot (it restarted), but the line lost or "
    "damaged a start byte of it (the rest came whole, its checksum holding): it warms up "
    "again, and its set-up is written again once it is up"
)

#: Why a device that sent nothing at all did not acknowledge a set-up command.
NOTHING_CAME_HINT = (
    "nothing came from the device since the command was written: it hears nothing or sends "
    "nothing (the device's RX not on the adapter's TX, no power, asleep; the stale hint says "
    "more); once it sends, the set-up is written again if it may have been asleep or off, "
    'and a command it still does not answer is logged as "set-up commands ignored"'
)


#: Why a device answered neither the query of a setting nor the command that sets it.
ANSWERS_NOTHING_HINT = (
    "neither the query of the setting nor the command that sets it got a reply, each written "
    "three times, and no byte came: check the device's power, its TX on the adapter's RX and "
    "its RX on TX, a common ground, the port and the baud rate; a unit left asleep answers "
    "its wake command (SDS011 'work') alone"
)


class DialoguePort(Protocol):
    """What a ``Dialogue`` needs of the sensor that owns it (``SensorRuntime``)."""

    #: Set by the dialogue while a set-up command's reply is awaited, or a late one watched
    #: (``LATE_REPLY_S``; None otherwise): takes the replies out of each chunk the sensor
    #: reads, before its framer sees the chunk.
    take_replies: Callable[[bytes], bytes] | None

    #: Set by the dialogue, empty, as a poll request is written to a device whose answers
    #: spoilt on the line can be told (None otherwise): the sensor adds the first bytes it
    #: reads after it (``sensord.sensor.HEARD_BYTES`` at most), for the dialogue to check at
    #: the next poll when no frame answered.
    heard: bytearray | None

    @property
    def source(self) -> Source | None:
        """The open port, None while it is closed."""
        ...

    @property
    def capture(self) -> CaptureRing:
        """The port's ring of raw bytes, where what is written goes too."""
        ...

    @property
    def bytes_read(self) -> int:
        """The bytes read from the port so far."""
        ...

    @property
    def framer(self) -> Framer:
        """The sensor's framer: its frame count, and the bytes it holds."""
        ...

    @property
    def log(self) -> FilteringBoundLogger:
        """The sensor's logger."""
        ...

    @property
    def state(self) -> str:
        """The sensor's state (``up``, ``stale``, ``down`` ...)."""
        ...

    @property
    def last_frame_at(self) -> float | None:
        """When the last frame came on this connection (None: none yet)."""
        ...

    def flush_capture(self) -> None:
        """Give the ring the chunks read before now (before a write goes into it)."""
        ...

    def disconnect(self, reason: str) -> None:
        """The port failed (a write raised): close it and reopen it with backoff."""
        ...

    def frame_held(self, data: bytes, at: float) -> None:
        """Frame ``data``, bytes that the watch for set-up replies held back (the first bytes
        of a reply that did not come), read at ``at`` (before now: the frames they end are
        taken with that time), as the rest of a chunk whose replies were taken out: checked
        first as the first bytes after the open (``FirstBytes``) while those are to come."""
        ...

    def ends_frame(self, data: bytes) -> int:
        """How many first bytes of ``data`` end the bytes the framer holds as one whole data
        frame (start bytes, length, end bytes and checksum), which they framed now complete
        (0: none do)."""
        ...

    def count_stale_from(self, at: float) -> None:
        """The sensor's staleness counts from ``at`` until a frame comes."""
        ...

    def woken(self, now: float) -> None:
        """A re-run of the set-up wrote the command that wakes the device at ``now``."""
        ...

    def spoilt_boot(self, frame: bytes, now: float) -> bool:
        """A poll before ``now`` was answered with the device's answer spoilt on the line,
        ``frame`` once made whole: when it is a frame of the device's boot (``frame.boot_bytes``),
        the device restarted, as when such a frame comes whole (it warms up again, and its
        set-up runs again once it is up), and True; False otherwise."""
        ...

    def streams_anew(self, now: float) -> None:
        """The device, set to send only when asked, was found streaming at ``now``, as it
        does once powered anew (a PMS): it may have just been powered, and warms up again."""
        ...

    def went_silent(self) -> None:
        """:data:`SILENT_POLLS` poll requests in a row went unanswered: the device may have
        lost its supply, and the frame that ends the silence may be its first after a
        power-up (when the silence lasted :data:`SILENT_S`, or that frame tells it)."""
        ...

    def on_working_period(self, now: float) -> None:
        """The device told at ``now`` that the set-up's working period is in force (an
        SDS011's query reply): each frame it sends follows a run of its fan."""
        ...

    def run_began(self, now: float) -> None:
        """A device polled on a working period (an SDS011 in query mode) answered at ``now``
        the first poll after those its sleep left unanswered: its fan has just started, and
        its answers of the next :data:`RUN_SETTLE_S` (``warmup_s`` when shorter) are read and
        not published (counted as ignored), without a warm-up's log lines. Not called for a
        sensor whose ``warmup_s`` is 0."""
        ...


class Dialogue:
    """The set-up commands, acknowledgements, re-runs and polls of one sensor's device; see
    the module docstring."""

    def __init__(
        self,
        config: SensorConfig,
        port: DialoguePort,
        *,
        clock: Callable[[], float],
        errors: RateLimiter,
        stale_after_s: float,
    ) -> None:
        self._config = config
        # held weakly: the sensor owns its dialogue, so a sensor removed at a reload is freed
        # at once rather than by the cyclic garbage collector
        self._port: DialoguePort = weakref.proxy(port)
        self._clock = clock
        self._errors = errors
        self.stale_after_s = stale_after_s
        self.next_poll_at: float | None = None
        #: a poll request was written and no frame came since
        self.awaiting_response = False
        #: where in the bytes the last ``take_replies`` returned its first reply was taken
        #: out (None: it took none): the sensor tells a cut line's end before it
        self.reply_at: int | None = None
        #: the poll requests, written in turn, and the index of the next one
        self._poll_requests = config.poll_requests() if config.poll is not None else (b"",)
        self._poll_turn = 0
        #: the request written last (None: none since the open)
        self._last_turn: int | None = None
        #: what each request got back since the open (``sensord.dialogue_requests``), shown as
        #: a datasheet writes it: in hex for a binary protocol
        self._requests = PollRequests(self._poll_requests, binary=codec_for(config.format).binary)
        #: the frames refused (``refused``) since the last request was written, and the
        #: status of the last
        self._refusals = 0
        self._last_status = 0
        #: the set-up commands, each with its bytes and the replies it may get (none: the
        #: device does not answer it)
        self._setup = config.setup_steps()
        #: which of them restart the device once it took them (MH-Z19 ``range``), when the
        #: device last took one (acknowledged it, or, for one it does not acknowledge, it was
        #: written), and whether the run under way leaves them out
        self._restarts = (False,) * len(self._setup)
        self._restart_taken_at: float | None = None
        #: of each set-up command, the query that asks for the setting it stores and the
        #: reply that tells the setting is in force (None: written without asking); whether
        #: the reply awaited is a query's, the command found set otherwise or whose query went
        #: unanswered, written next (None: none), and the command written on this run for a
        #: query that went unanswered, its ``missing`` counted for the query (None: none)
        self._queries = config.setup_queries()
        #: the replies to those queries: a late one acknowledges nothing (a query and its
        #: command share the command's name)
        self._query_acks = frozenset(query[1] for query in self._queries if query is not None)
        self._asking = False
        #: ``bytes_read`` and the time when the query of the setting under way was first
        #: written; ``bytes_read`` when a setting's query and the command written for it both
        #: went unanswered with no byte from the device meanwhile (None: not on this connect):
        #: while no byte comes after it, each set-up write is written once (``_tries``)
        self._bytes_at_ask = 0
        self._query_at = 0.0
        self._silent_at: int | None = None
        self._differs: int | None = None
        self._unknown: int | None = None
        #: the set-up command that leaves the device on a working period (an SDS011's
        #: ``working_period=N``, N > 0, the last of them): a query that finds it in force
        #: tells the sensor (``on_working_period``); None: none
        self._period_step: int | None = None
        #: its runs' first answers are those of a fan not settled (``run_began``), polled
        #: often enough that an answer of each run comes :data:`RUN_SETTLE_S` after the first
        #: and a poll interval before the run ends: how many polls in a row left unanswered
        #: are a sleep (they span :data:`RUN_SETTLE_S`, half the shortest sleep; fewer are
        #: answers lost within a run); None: its runs' answers are all published
        self._sleep_polls: int | None = None
        self._skip_restarting = False
        #: the framer's frame count and ``bytes_read`` when the port opened, and whether the
        #: device was answering (a frame since then, not stale) when the command whose reply
        #: is awaited was first written
        self._frames_at_open = 0
        self._bytes_at_open = 0
        self._answering_at_write = False
        #: the bytes of the preset's command that wakes the device (None: it has none)
        self._wake: bytes | None = None
        #: the set-up leaves the preset's device sending only when asked
        sends_when_asked = False
        #: of a polled device, the set-up command that does it (None: none)
        self._quiet_step: int | None = None
        #: a device set to send only when asked that streams only once powered anew (a PMS):
        #: found streaming, it warms up again (``DialoguePort.streams_anew``)
        self._powered_when_streaming = False
        #: the longest time between two frames of its stream, by its datasheet (None: not
        #: known)
        stream_s: float | None = None
        #: the set-up runs again while the sensor is stale (False: once the device answers
        #: again, ``answers_again``, or, of a PMS, once it streams), and such a run is due at
        #: the next tick
        self.reruns_while_stale = True
        self._due_when_back = False
        #: a set-up command of it has the device store its setting in a memory each write
        #: wears (an MH-Z19's ``abc_off``, ``range``: ``presets.stores_setting``): such a
        #: set-up runs again after a stale spell only when the device may have been powered
        #: anew (``answers_again``)
        self._stores = False
        #: what tells the bytes read after a poll request, when no frame answered it, as the
        #: device's answer spoilt on the line (None: the device's answers have no such check;
        #: ``sensord.formats.presets.spoilt_answer_check``)
        self._spoilt: Callable[[bytes], bytes | None] | None = None
        #: the layout of the replies the device sends to commands of any kind, and the name
        #: of a reply's kind (``sensord.formats.presets.unasked_replies``; None: none such),
        #: and the kinds of those that came unasked, logged once each
        self._strays: tuple[Ack, Callable[[bytes], str]] | None = None
        self._strays_told: set[str] = set()
        #: the replies that came unasked (counted as frames read without readings)
        self.unasked_replies = 0
        if config.preset is not None:  # what is known of a preset's device and its commands
            from sensord.formats.presets import (  # noqa: PLC0415  (loaded by a sensor with a preset)
                answers_when_powered,
                asked_only,
                command_bytes,
                restarts_device,
                spoilt_answer_check,
                stores_setting,
                stream_interval_s,
                streams_when_powered,
                unasked_replies,
                wake_command,
                working_period_s,
            )

            self._strays = unasked_replies(config.preset)

            names = config.setup_names()
            self._restarts = tuple(restarts_device(config.preset, name) for name in names)
            self._stores = any(stores_setting(config.preset, name) for name in names)
            if working_period_s(config.preset, names) > 0.0:
                self._period_step = max(
                    i for i, name in enumerate(names) if name.startswith("working_period=")
                )
            wake = wake_command(config.preset)
            self._wake = None if wake is None else command_bytes(config.preset, wake)
            quiet = asked_only(config.preset, names)
            sends_when_asked = quiet is not None
            if quiet is not None and config.poll is not None:
                self._quiet_step = quiet[0]
            self._powered_when_streaming = streams_when_powered(config.preset)
            stream_s = stream_interval_s(config.preset)
            # polled, a device that answers whenever it is powered (an MH-Z19) takes nothing
            # from a run while it is stale, nor does one set to send only when asked that
            # streams once powered anew (a PMS) unless the run wakes it: a run written as its
            # supply comes back would set it passive before its stream tells the power-up
            self.reruns_while_stale = config.poll is None or not (
                answers_when_powered(config.preset)
                or (self._powered_when_streaming and wake not in names)
            )
            if config.poll is not None:
                self._spoilt = spoilt_answer_check(config.preset, self._poll_requests)
                if self._period_step is not None and config.warmup_s > 0:
                    # the first answer comes up to a poll interval into the run, and the
                    # first after RUN_SETTLE_S from it up to a poll interval after that: it
                    # must still come within the run, whose length is the sensor's own timing
                    # (``warmup_s = 0`` publishes every answer)
                    interval = config.poll.interval_s
                    if RUN_SETTLE_S + 2 * interval <= RUN_S:
                        self._sleep_polls = math.ceil(RUN_SETTLE_S / interval - 1e-9)
        #: how many of them this connect has written, and when the next one is due (None:
        #: all written)
        self._setup_sent = 0
        self._setup_at: float | None = None
        #: the acknowledgement of the command just written, awaited until ``_acks_until``,
        #: and how many times that command has been written on this connect
        self._acks: AckWatch | None = None
        self._acks_until = 0.0
        #: the watch in front of the sensor's chunks (``take_replies``): ``_acks`` while a
        #: reply is awaited, and until ``_late_until`` the commands whose wait ended before
        #: their reply came (``LATE_REPLY_S``); None: none
        self._replies: AckWatch | None = None
        self._late_until = -math.inf
        #: when the wait ended of each command whose reply is watched as late
        self._waits_ended: dict[str, float] = {}
        #: when the bytes the watch holds back came (the first of them): a frame they end is
        #: taken with that time once they go on to the framer
        self._held_at = -math.inf
        self._setup_tries = 0
        #: set-up runs while the port stayed open (see the module docstring): whether the run
        #: under way is one, the wait after the run that ends next before another may start,
        #: when the next may start, and the poll intervals running that brought more than one frame
        #: from a device whose set-up leaves it sending only when asked (None: not such a
        #: device), and when the last such interval ended
        self.setup_reruns = 0
        self._rerunning = False
        self.rerun_wait = stale_after_s
        self._rerun_at = -math.inf
        #: the re-runs of this stale spell (since the device last answered): logged while
        #: few, then the 4th, 8th, 16th ... (a device gone for a month is re-run every
        #: RERUN_MAX_WAIT_S: a few dozen lines, not 8,000)
        self._spell_reruns = 0
        #: the re-runs of the spell not logged since the last one logged
        self._reruns_held = 0
        #: of a polled device that its set-up leaves sending only when asked, whether it sends
        #: unasked (``sensord.dialogue_unasked``; None: not such a device)
        self._unasked: UnaskedFrames | None = None
        if config.poll is not None and sends_when_asked:
            assert self._quiet_step is not None
            self._unasked = UnaskedFrames(
                port,
                self,
                errors=errors,
                interval_s=config.poll.interval_s,
                poll_request=self._requests.shown(0),
                command=self._setup[self._quiet_step][0],
                powered_when_streaming=self._powered_when_streaming,
                stream_s=stream_s,
            )
        #: ``(reason, command)`` counted in ``setup_ack_errors`` and not acknowledged since
        self._ack_counted: set[tuple[str, str]] = set()
        #: the connection was opened again for its silence: its set-up counts as a re-run's
        self._same_device = False
        #: the framer's frame count and ``bytes_read`` when the last poll request was written
        self._frames_at_request = 0
        self._bytes_at_request = 0
        #: the poll requests in a row that no frame answered (``SILENT_POLLS``), of those the
        #: device answered since the port opened (of any before it answered one)
        self._silent_polls = 0
        #: of a device on a working period, no poll was answered since the port opened: it
        #: may have been asleep at the open, and its first answer be the first of a run, its
        #: fan spinning up, which begins a hold as a run's does (one awake mid-run has the
        #: rest of its run's answers held, no more)
        self._run_unknown = False
        #: since the last poll a frame answered: whether a poll was answered with the device's
        #: answer spoilt on the line, and whether :data:`SILENT_POLLS` in a row went silent
        #: (``powered_through``)
        self._spell_spoilt = False
        self._spell_silent = False
        # counters (plain ints, exported by the collector through the sensor's snapshot)
        self.poll_timeouts = 0
        self.setup_ack_errors: dict[str, int] = dict.fromkeys(ACK_ERROR_REASONS, 0)
        #: the set-up commands whose acknowledgement did not come on this connect (the stale
        #: hint of a device that sent nothing names them)
        self.unanswered: list[str] = []
        #: the set-up commands whose acknowledgement came on this connect (the last of their
        #: writes), for the stale hint
        self.acknowledged: set[str] = set()
        #: ``bytes_read`` when the command whose reply is awaited was first written
        self._bytes_at_write = 0
        #: the commands logged missing while the device had sent nothing (or written to it
        #: stale), the frame count then, and whether a re-run or a reconnect for silence wrote
        #: them to the stale device: a frame after it (a poll answered) shows the device ignores
        #: them, or, after such a run, that it is back
        self._missing_unheard: tuple[list[str], int, bool] | None = None
        #: ``poll_timeouts`` when they were: a poll left unanswered after them shows a device
        #: that was silent, not one that ignores them
        self._timeouts_at_unheard = 0
        #: the connect's run found a device that streams silent since the open, and the re-run
        #: its first frame started to write the set-up again: a command that re-run misses,
        #: the device up, is one it ignores (logged as such)
        self._silent_connect = False
        self._recheck_ignored = False
        #: the commands that re-run missed so far, told together when it is over, and those
        #: told once the watch for their late replies is over
        self._ignored_again: list[str] = []
        self._ignored_late: list[str] = []

    def _watch(self, acks: AckWatch | None) -> None:
        """Await the replies ``acks`` watches for (None: none), taking them out of the
        sensor's chunks meanwhile, with the late replies watched still (``_replies``)."""
        self._acks = acks
        if acks is not None:
            self._replies = acks
        elif self._replies is not None and not self._replies.late:
            self._replies = None if self._replies.stray is None else self._replies
        self._port.take_replies = None if self._replies is None else self.take_replies

    def _end_late(self, now: float) -> None:
        """The time for late replies (:data:`LATE_REPLY_S`) is over: they are watched no more,
        and the bytes held back for one are framed."""
        watch = self._replies
        assert watch is not None
        self._late_until = -math.inf
        self._waits_ended.clear()
        held = watch.forget_late()
        self._watch(self._acks)
        if held:
            self._hand_on(held, watch.before, self._held_at)
        self._late_over()

    def _late_over(self) -> None:
        """No late reply is watched any more: the commands a re-run missed that none
        acknowledged are told (``_log_ignored``)."""
        ignored, self._ignored_late = self._ignored_late, []
        if ignored:
            self._log_ignored(ignored)

    def _hand_on(self, data: bytes, before: int, at: float) -> None:
        """Frame ``data``, bytes the watch for replies held back that came at ``at`` and are no
        reply, its first ``before`` dropped as the framer's pending bytes were when a poll
        request went out after them (no answer begins before its request)."""
        port = self._port
        if before:
            port.frame_held(data[:before], at)
            port.framer.drop_pending()
            data = data[before:]
        if data:
            port.frame_held(data, at)

    def frame_end(self, now: float) -> None:
        """The sensor framed a chunk while replies are watched (``take_replies``): the bytes
        the watch holds back as a reply's first that end a data frame whole with the bytes the
        framer holds (a PMS checksum ending ``42``, an MH-Z19 checksum ``FF``) are framed now,
        with the chunk's time ``now``, not when the next chunk or the watch's end decides
        them, also when bytes follow the frame's end (an SDS011 whose device id is ``AA C5``,
        the next frame's first bytes in the same chunk); a reply's first bytes end no frame,
        and those that end none stay held."""
        watch = self._replies
        if watch is None:
            return
        held = watch.held
        port = self._port
        while held and (n := port.ends_frame(held)):
            port.frame_held(watch.take_held(n), now)
            held = watch.held
        if held and watch.held_anew:  # the bytes after the frame came with the chunk
            self._held_at = now

    # -- the sensor's calls ----------------------------------------------------------------------
    def opened(self, now: float, *, same_device: bool) -> None:
        """The port opened at ``now``: the set-up commands from the first tick
        ``connect_delay_s`` after it on (the first poll then, without any). ``same_device``: a
        connection opened again for its silence, which keeps the re-runs' wait (the device
        behind it is the same one, still stale)."""
        self.awaiting_response = False
        self._poll_turn = 0
        self._last_turn = None
        self._requests.forget()
        self._silent_polls = 0
        self._run_unknown = True
        self._spell_spoilt = self._spell_silent = False
        self._port.heard = None
        self._setup_sent = 0
        # a device the open restarts takes no command while it boots: the first write waits
        at = now + self._config.connect_delay_s
        self._setup_at = at if self._setup else None
        self.next_poll_at = at if self._config.poll is not None and not self._setup else None
        self._replies = None
        if self._strays is not None:
            from sensord.formats.acks import AckWatch  # noqa: PLC0415  (loaded by a sensor of binary frames)

            self._replies = AckWatch([], self._strays[0])
        self._late_until = -math.inf
        self._waits_ended.clear()
        self._watch(None)
        self._setup_tries = 0
        self._asking = False
        self._differs = None
        self._unknown = None
        self._silent_at = None
        self._rerunning = False
        self._restart_taken_at = None
        self._skip_restarting = False
        self._frames_at_open = self._port.framer.frames
        self._bytes_at_open = self._port.bytes_read
        if not same_device:
            self.rerun_wait = self.stale_after_s
            self._rerun_at = -math.inf
        if self._unasked is not None:
            self._unasked.opened()
        self._same_device = same_device
        if not same_device:
            self._ack_counted.clear()
        self._frames_at_request = self._port.framer.frames
        self._bytes_at_request = self._port.bytes_read
        self._refusals = 0
        self.unanswered = []
        self.acknowledged.clear()
        self._missing_unheard = None
        self._silent_connect = self._recheck_ignored = False
        self._ignored_again = []
        self._ignored_late = []
        self._due_when_back = False

    def retime(self, stale_after_s: float) -> None:
        """The sensor's ``stale_after`` changed (a reload that kept its port open): the wait
        between set-up re-runs starts over from it at the next frames after a silence."""
        self.stale_after_s = stale_after_s

    def back_from_stale(self) -> None:
        """Frames came after the sensor was stale: the device is back, and its next loss is
        set up again as soon as it is stale."""
        self.rerun_wait = self.stale_after_s
        self._rerun_at = -math.inf
        self._spell_reruns = 0
        if self._unasked is not None:
            self._unasked.streamed_finds = 0

    def answers_again(self, *, powered_anew: bool) -> None:
        """A device whose set-up does not run while it is stale (``reruns_while_stale``
        False: a polled MH-Z19) answers again after a stale spell in which it sent nothing:
        when it left :data:`SILENT_POLLS` polls in a row unanswered, it may have lost its
        supply, which undoes its set-up, so the set-up runs again at the next tick, once (a
        run for a set-up it missed while it was silent, ``_check_ignored``, is that run). A
        spell of no unanswered poll is the set-up's own (polls pause while it runs). A
        set-up that stores its setting in a memory each write wears (``_stores``: the
        MH-Z19's ``abc_off`` and ``range`` write its EEPROM) runs again only when the
        silence is one a supply cut leaves (``powered_anew``: no frame for :data:`SILENT_S`,
        or an answer that reads 0; a boot's answers run it too, ``booting``), not after the
        shorter stale spells a line that loses answers leaves a fast-polled device (stale
        after 5 s at 1 s polls): each such run would store the setting again. A device that
        streams once powered anew (a PMS) is not set up at its return: powered anew, it
        streams, which sets it up again (``UnaskedFrames.polled``)."""
        if self._silent_polls < SILENT_POLLS:
            return
        missing = self._missing_unheard
        if missing is not None:  # the connect's run found it silent: not ignored, but off
            self._missing_unheard = (missing[0], missing[1], True)
        if self._powered_when_streaming or (self._stores and not powered_anew):
            # a PMS powered anew streams, which sets it up again (``UnaskedFrames.polled``)
            return
        self._due_when_back = True

    @property
    def silent_s(self) -> float:
        """:data:`SILENT_S`: how long a silence lasts that warms the device up again."""
        return SILENT_S

    @property
    def silent_polls(self) -> int:
        """The poll requests in a row that no frame answered, until the next poll after the
        frame that ends them (for the line of a warm-up after a silence)."""
        return self._silent_polls

    @property
    def powered_through(self) -> bool:
        """Whether the polls since the last one a frame answered were answered with the
        device's answer spoilt on the line (``_spoilt_answer``), one at least, and never
        :data:`SILENT_POLLS` in a row went unanswered: a device that goes stale so, its
        frames spoilt for a while, was powered through it (read as a frame comes)."""
        return self._spell_spoilt and not self._spell_silent

    @property
    def sets_up(self) -> bool:
        """True when there are set-up commands a re-run writes (none for a replay)."""
        return bool(self._setup) and not self._config.address.is_replay

    @property
    def setting_up(self) -> bool:
        """True while set-up commands are under way (a polled device is asked only after
        them, and the sensor does not go stale meanwhile)."""
        return self._setup_at is not None or self._acks is not None

    def booting(self) -> None:
        """The device sent a frame of its boot: a run that missed it while it was silent is
        not written again as its boot goes on (a booting device would undo it, and one that
        restarts on a command, MH-Z19 ``range``, would restart), but with the whole set-up
        once it is up (``sensord.boots.DeviceBoots.settled``, at the sensor's tick)."""
        missing = self._missing_unheard
        if missing is not None and missing[2]:
            self._missing_unheard = None
        self._due_when_back = False

    def restarted_by_setup(self, now: float) -> bool:
        """Whether a device that began to boot at ``now`` was restarted by a set-up command
        of this connect (one it took at most :data:`COMMAND_RESTART_S` before, and a poll
        interval more: a polled device tells its boot at the first poll it answers, and the
        poll that follows the set-up by :data:`SETUP_GAP_S` finds it restarting still)."""
        at = self._restart_taken_at
        poll = self._config.poll
        within = COMMAND_RESTART_S + (0.0 if poll is None else poll.interval_s)
        return at is not None and now - at <= within

    @property
    def rerun_at(self) -> float:
        """The earliest time the set-up may run again (``rerun``)."""
        return self._rerun_at

    def tick(self, now: float) -> None:
        """Write what is due at ``now``: a set-up command again whose reply has not come, the
        next set-up command, the poll request. A write that breaks the port ends it."""
        port = self._port
        if self._missing_unheard is not None:
            self._check_ignored()
        if self._due_when_back and self.rerun(
            now,
            "the device answers again after a silence without a byte: it may have lost its supply",
            wait=False,
        ):
            self._due_when_back = False
        if self._acks is not None and now >= self._acks_until:
            self._acks_expired()
            if port.source is None:
                return
        if self._replies is not None and now >= self._late_until and self._replies.late:
            self._end_late(now)
        if self._setup_at is not None and now >= self._setup_at:
            self._send_setup(now)
            if port.source is None:
                return
        if self.next_poll_at is not None and now >= self.next_poll_at:
            self._poll(now)

    def answer_awaited(self, now: float) -> bool:
        """True when the last poll request awaits its answer and the next one is due at
        ``now``, or a set-up command's reply is awaited (or a late one watched,
        :data:`LATE_REPLY_S`) and its time is up: what the port
        holds is read before ``tick`` writes the next request or the command again (the
        reader's ``_read_before_tick``). The loop reads a port when its descriptor is
        readable, but checks its timers first after a pause between passes (``Reader.run``),
        so an answer whose last bytes came in the pause that ends as the next poll is due
        would be read only after that poll's request, its first bytes dropped (``_poll``) and
        the poll counted unanswered; and a reply that came in the pause that ends at its
        deadline (an SDS011 answers "about a second" after a command, a frame it streams
        ending the loop's wait just before) would have its command written again, the reply
        to that write coming unawaited into the data stream, or, after the last write,
        counted ``missing``."""
        if self._acks is not None and now >= self._acks_until:
            return True
        replies = self._replies
        if replies is not None and replies.late and now >= self._late_until:
            return True  # a late reply read before its watch ends
        at = self.next_poll_at
        return self.awaiting_response and at is not None and now >= at

    def next_deadline(self) -> float | None:
        """The earliest time ``tick`` has work to do (set-up, poll), while the port is open."""
        due = self.next_poll_at
        if self._setup_at is not None:
            due = self._setup_at
        elif self._acks is not None:
            due = self._acks_until if due is None else min(due, self._acks_until)
        if self._replies is not None and self._replies.late:
            due = self._late_until if due is None else min(due, self._late_until)
        return due

    # -- set-up commands and their acknowledgements ----------------------------------------------
    def take_replies(self, chunk: bytes) -> bytes:
        """The chunk without the set-up commands' replies, late ones (``LATE_REPLY_S``)
        included; checks each reply found."""
        watch = self._replies
        assert watch is not None
        held_at = self._held_at
        rest, found = watch.feed(chunk)
        if watch.held_anew and watch.held:  # the time of the bytes held from this chunk on
            self._held_at = self._clock()
        earlier = watch.earlier
        reply_at = watch.reply_at
        if earlier:  # bytes held back with an earlier chunk, no reply: framed at their time
            self._hand_on(rest[:earlier], watch.before, held_at)
            rest = rest[earlier:]
            if reply_at is not None:
                reply_at -= earlier
        self.reply_at = reply_at
        for command, ok, reply in watch.late_found:
            self._late_reply(command, ok, query=reply in self._query_acks)
        for stray in watch.stray_found:
            self._unasked_reply(stray)
        if watch.late_found and not watch.late:
            self._late_over()
        acks = self._acks
        if acks is None:  # only late replies watched, or replies nobody awaits
            if not watch.late and watch.stray is None:
                self._watch(None)
            return rest
        index = self._setup_sent - 1
        for command, ok in found:
            # a query's reply tells the setting in force: the command's, which needs no
            # write, or another, and the command is written next, its reply checked
            asking, self._asking = self._asking, False
            if asking and not ok:
                self._setup_sent -= 1
                self._differs = self._setup_sent
            elif ok:
                if asking and index == self._period_step:
                    self._port.on_working_period(self._clock())
                if not asking and self._restarts_on(command):
                    self._restart_taken_at = self._clock()
                self.acknowledged.add(command)
                self._ack_counted.discard(("missing", command))
                self._ack_counted.discard(("wrong", command))
                if command in self.unanswered:
                    self.unanswered.remove(command)
            else:
                self._ack_error("wrong", command)
        if not acks.pending:
            self._watch(None)
            self._setup_step_done(self._clock())
        return rest

    def _unasked_reply(self, reply: bytes) -> None:
        """A reply to a command came that no command of this connect awaits (a reply to
        another program's command on the line, or to a set-up command past its late watch):
        taken out of the stream, no noise; counted, and logged at info level once per kind."""
        self.unasked_replies += 1
        assert self._strays is not None
        kind = self._strays[1](reply)
        if kind not in self._strays_told:
            self._strays_told.add(kind)
            self._port.log.info(
                "reply to a command came unasked",
                kind=kind,
                reply=shown(reply, binary=True),
                hint=UNASKED_REPLY_HINT,
            )

    def _restarts_on(self, command: str) -> bool:
        """Whether the device restarts once it took set-up command ``command``."""
        return any(
            restarts and name == command
            for (name, _, _), restarts in zip(self._setup, self._restarts, strict=True)
        )

    def _late_reply(self, command: str, ok: bool, *, query: bool) -> None:
        """The reply to ``command`` came after its wait ended (``LATE_REPLY_S``), and was taken
        out of the stream, logged at info level with the time since its own wait ended (a
        later command's may have ended since). One that acknowledges it tells that the
        device took it, as one within the wait does: in ``acknowledged`` for the stale hint,
        no command it ignores (a re-run's line of those waits for the late replies), and, of
        a command after which the device restarts (MH-Z19 ``range``), its boot the
        command's doing (``restarted_by_setup``); its ``missing`` counted all the same. One
        that tells another setting than the command's (an SDS011's ``AA C5 02 01 00``,
        active mode, to ``query_mode``) is counted ``wrong``, as within the wait. A query's
        late reply is taken out, and tells nothing more (``query``): the command was written
        after it went unanswered."""
        if ok and not query:
            if command in self.unanswered:
                self.unanswered.remove(command)
                self.acknowledged.add(command)
            self._ack_counted.discard(("missing", command))
            self._ack_counted.discard(("wrong", command))
            for ignored in (self._ignored_again, self._ignored_late):
                if command in ignored:
                    ignored.remove(command)
            if self._restarts_on(command):
                self._restart_taken_at = self._clock()
        elif not query:
            self._ack_error("wrong", command)
        now = self._clock()
        self._port.log.info(
            "set-up reply came late",
            command=command,
            query=query,
            acknowledges=ok,
            after_wait_s=round(now - self._waits_ended.get(command, now), 3),
        )

    def _acks_expired(self) -> None:
        """The time for the set-up command's reply is up: the command is written again, or,
        after its last write, counted missing (a query: its command is written next), its
        reply watched for as a late one for :data:`LATE_REPLY_S` more (the bytes held back
        as its first stay held)."""
        acks = self._acks
        assert acks is not None
        now = self._clock()
        index = self._setup_sent - 1
        tries = self._tries()
        if self._setup_tries < tries:
            if self._write_setup(index, query=self._asking):
                self._acks_until = now + ACK_TIMEOUT_S * 2**self._setup_tries
                self._setup_tries += 1
                return
            if self._port.source is None:  # the write broke the port
                return
        missing = acks.expire()
        self._late_until = now + LATE_REPLY_S
        for command in missing:
            self._waits_ended[command] = now
        asking, self._asking = self._asking, False
        self._watch(None)
        if (
            missing
            and not asking
            and self._answering_at_write
            and self._restarts[self._setup_sent - 1]
        ):
            # a device may take such a command without a reply (the MH-Z19B's datasheet
            # gives none to ``range``) and restart: its boot is the command's doing, when it
            # was answering as the command went out (one not powered yet, or whose supply
            # was cut, boots as it powers up, without the command's setting)
            self._restart_taken_at = now
        heard = self._port.bytes_read != self._bytes_at_write
        # a run for a stale device (a re-run, or the connect of a connection opened again for
        # its silence) wrote to one that may be off: it is written again once the device
        # answers, even a command it never acknowledges (a clone MH-Z19 that takes abc_off
        # without a reply loses it with its supply, as a genuine one does)
        stale_run = (self._rerunning or self._same_device) and self._port.state == "stale"
        silent_run = stale_run
        # so did the connect's run to a device that sent no byte since the open and may have
        # been asleep or unpowered then: one that streams, or a polled one that has a sleep
        # (an SDS011 or a PMS asleep answers only its wake command, and another program, or
        # the set-up's own wake command, may wake it before its first poll is answered); a
        # polled one without a sleep (an MH-Z19) is silent until asked, and its first answer
        # tells it ignores them
        silent_connect = (
            not (self._rerunning or self._same_device)
            and (self._config.poll is None or self._wake is not None)
            and self._port.bytes_read == self._bytes_at_open
        )
        silent_run = silent_run or silent_connect
        unheard = []
        for command in missing:
            self.acknowledged.discard(command)
            if command not in self.unanswered:
                self.unanswered.append(command)
            hint = IGNORED_COMMAND_HINT if heard else NOTHING_CAME_HINT
            # a command written for its unanswered query: its ``missing`` is the query's
            counted = index != self._unknown and self._ack_error("missing", command, hint=hint)
            if (counted or silent_run) and (not heard or (asking and stale_run)):
                unheard.append(command)
        if unheard:
            before = self._missing_unheard
            if before is not None and before[1] == self._port.framer.frames:
                # the run's earlier commands, missed with no frame since: a late reply that
                # acknowledges this one leaves them to be told
                unheard = [c for c in before[0] if c not in unheard] + unheard
            self._missing_unheard = (
                unheard,
                self._port.framer.frames,
                self._rerunning or silent_run,
            )
            self._timeouts_at_unheard = self.poll_timeouts
            self._silent_connect = silent_connect
        if missing and not asking and self._recheck_ignored:
            self._ignored_again += missing
        unasked = self._unasked
        streamed = (
            unasked.streamed(now)
            if unasked is not None and missing and not asking and index == self._quiet_step
            else False
        )
        if streamed is True:
            assert unasked is not None
            unasked.streams_on(now)
        elif streamed is not False:  # the first poll waits: a frame before it tells a stream
            assert unasked is not None
            unasked.stream_watch = streamed
        if (
            missing
            and not asking
            and index == self._unknown
            and self._port.bytes_read == self._bytes_at_ask
        ):
            self._answers_nothing(index, now)
        if asking and missing and self._setup_tries == tries:
            if stale_run:
                # a run for a stale device whose query went unanswered: the setting it
                # stores is not written to a device that may hear while its replies are
                # lost (each write wears its flash); it is asked for again, and written
                # if another is in force, once the device answers (``_check_ignored``)
                self._setup_step_done(now)
                return
            # the query went unanswered after its last write (not one the device did not
            # read): the setting in force is not known, and the command is written next, as
            # it was on every connect before it had a query
            self._setup_sent = index
            self._differs = self._unknown = index
        self._setup_step_done(now)

    def _tries(self) -> int:
        """How many times in all the set-up write under way is written while its reply does
        not come: :data:`SETUP_TRIES`, or once while the device answers nothing
        (``_answers_nothing``) and no byte came since."""
        silent_at = self._silent_at
        return 1 if silent_at is not None and self._port.bytes_read == silent_at else SETUP_TRIES

    def _answers_nothing(self, index: int, now: float) -> None:
        """The query of set-up command ``index`` and the command written for it both went
        unanswered, and the device sent no byte since the query was first written: it
        answers nothing (off, its TX or RX not wired to the adapter, another port, asleep).
        While no byte comes, the rest of the connect's set-up writes are written once each
        (a query, and its command when it goes unanswered; a reply still awaited
        :data:`ACK_TIMEOUT_S`), so the first poll is not held back by retries that a device
        answering within tens of milliseconds has not used; logged when it begins, at most
        once a minute."""
        if self._tries() == 1:  # known since an earlier setting, and no byte came
            return
        self._silent_at = self._port.bytes_read
        held = self._errors.check("answers-nothing")
        if held is None:
            return
        port = self._port
        port.log.warning(
            "the device answers nothing: set-up commands are written once each until it sends",
            port=self._config.port,
            command=self._setup[index][0],
            silent_for_s=round(now - self._query_at, 3),
            rest=[name for name, _, _ in self._setup[index + 1 :]],
            hint=ANSWERS_NOTHING_HINT,
            suppressed=held,
        )

    def _ack_error(self, reason: str, command: str, **fields: str) -> bool:
        """Count and log a command not acknowledged: on a re-run, or on a connection opened
        again for its silence, only when it was acknowledged since it was last counted (see
        the module docstring). True when it was counted."""
        key = (reason, command)
        if (self._rerunning or self._same_device) and key in self._ack_counted:
            return False
        self._ack_counted.add(key)
        self.setup_ack_errors[reason] += 1
        held = self._errors.check(f"ack:{reason}:{command}")
        if held is not None:
            self._port.log.warning(
                "set-up command not acknowledged",
                command=command,
                reason=reason,
                tries=self._setup_tries,
                suppressed=held,
                **fields,
            )
        return True

    def _check_ignored(self) -> None:
        """Commands counted missing while the device had sent nothing: once a frame comes
        (a polled device answers only after its set-up) with no poll left unanswered since
        then, a device that has no sleep (an MH-Z19) is known to hear and to ignore them,
        which is logged at most once a minute (a port that is opened again and
        again finds it at each connect; ``suppressed``: the connects held back). A re-run
        (or the connect of a connection opened again for its silence) wrote them to a device
        that was silent (stale: its supply cut, say) when it began:
        its frame tells only that it is back, as it powered up (an MH-Z19's calibration on
        again, a PMS in active mode), and the set-up is written again at once, or as soon as
        the run that missed them is over (a later command's reply still awaited). So does
        the connect's run to a silent device that streams, or to a polled one that has a
        sleep (an SDS011 asleep at the open, woken within its first poll interval): the
        commands the run its frame starts misses again are the ones it ignores."""
        assert self._missing_unheard is not None
        commands, frames, rerun = self._missing_unheard
        if self._port.framer.frames == frames:
            return
        self._missing_unheard = None
        still = [command for command in commands if command in self.unanswered]
        if not still:
            return
        if not rerun and self.poll_timeouts != self._timeouts_at_unheard:
            # a polled device whose first frame came after a poll it left unanswered was
            # silent after its set-up too (an SDS011 asleep at the open, woken later): it did
            # not answer them, which says nothing of whether it heard them. Its set-up is
            # written again, as a streaming device's silent at its connect is, and the
            # commands that run misses again are the ones it ignores
            rerun = self._silent_connect = True
        if rerun:
            if not self.rerun(
                self._clock(),
                "the device answers again: the set-up ran while it was silent, unanswered",
                wait=False,
                expected=True,
            ):
                # the run that missed them is not over (a later command's reply awaited):
                # the set-up is written again once it is
                self._missing_unheard = (commands, frames, rerun)
                return
            self._recheck_ignored, self._silent_connect = self._silent_connect, False
            return
        self._log_ignored(still)

    def _log_ignored(self, commands: list[str]) -> None:
        """The device answers, but not set-up ``commands``: logged at most once a minute."""
        held = self._errors.check("ignored")
        if held is not None:
            self._port.log.warning(
                "set-up commands ignored: the device answers, but not them",
                commands=commands,
                hint=IGNORED_COMMAND_HINT,
                suppressed=held,
            )

    def rerun(
        self,
        now: float,
        why: str,
        *,
        wait: bool = True,
        expected: bool = False,
        without_restarting: bool = False,
    ) -> bool:
        """Write the set-up commands again while the port stays open, if the sensor has any,
        no sooner than the wait after the last run allows (see the module docstring; without
        ``wait``, a device that told it restarted, as soon as no run is under way). False
        when the run must wait; True when it started, or when there is none to run (no
        set-up commands, a replayed capture). An ``expected`` run (a device powered with the
        host, booting after the port opened) is logged at info level, not as a warning.
        ``without_restarting``: the device restarted on a set-up command of its own, which
        this run leaves out (``restarted_by_setup``)."""
        if not self._setup or self._config.address.is_replay:
            return True
        if (wait and now < self._rerun_at) or self._setup_at is not None or self._acks is not None:
            return False
        if without_restarting and all(self._restarts):
            self._restart_taken_at = None
            return True  # nothing but the commands that restarted it
        self.rerun_wait = min(2.0 * self.rerun_wait, max(RERUN_MAX_WAIT_S, self.stale_after_s))
        self.setup_reruns += 1
        # the wait spaces the runs it holds back; a device that restarts again and again (a
        # supply that sags under its load) is set up again each time, logged once a minute
        held = 0 if wait or expected else self._errors.check("rerun:restarted")
        if wait:
            self._spell_reruns += 1
            spell = self._spell_reruns
            if spell > 3 and spell & (spell - 1):  # past the first three, powers of two
                held = None
                self._reruns_held += 1
            else:
                held, self._reruns_held = self._reruns_held, 0
        self._skip_restarting = without_restarting
        if without_restarting:
            self._restart_taken_at = None
        if held is not None:
            (self._port.log.info if expected else self._port.log.warning)(
                "sending the set-up commands again",
                why=why,
                commands=[
                    name
                    for (name, _, _), restarts in zip(self._setup, self._restarts, strict=True)
                    if not (without_restarting and restarts)
                ],
                reruns=self.setup_reruns,
                next_rerun_after_s=round(self.rerun_wait, 3),
                suppressed=held,
            )
        self._rerunning = True
        if self._unasked is not None:  # its run tells whether it streams on
            self._unasked.run_begins()
        self._due_when_back = False  # this run is the one due
        self._setup_sent = 0
        self._differs = None
        self._unknown = None
        self._setup_at = now + SETUP_GAP_S  # a poll may have been written just now
        if self._config.poll is not None:
            self.next_poll_at = None  # polls go on after the run (``_setup_step_done``)
        return True

    def _send_setup(self, now: float) -> None:
        """Write the next set-up command and await its acknowledgement, if the device sends
        one (see the module docstring)."""
        self._setup_at = None
        index = self._setup_sent
        if self._skip_restarting:  # the device restarted on them: they have taken
            while index < len(self._setup) and self._restarts[index]:
                index += 1
            self._setup_sent = index
            if index == len(self._setup):
                self._setup_step_done(now)
                return
        query = self._queries[index]
        # a setting the device stores is asked for first, and written once the reply tells
        # another is in force
        asking = query is not None and self._differs != index
        self._differs = None
        if not self._write_setup(index, query=asking):
            if self._port.source is not None:  # not taken: no set-up command more on this connect
                self._setup_step_done(now)
            return
        self._setup_sent += 1
        command, data, acks = self._setup[index]
        if asking:
            assert query is not None
            acks = (query[1],)
            self._asking = True
        else:
            if self._restarts[index] and not acks:
                self._restart_taken_at = now
            if self._rerunning and data == self._wake:
                self._port.woken(now)
        if acks:
            from sensord.formats.acks import AckWatch  # noqa: PLC0415  (loaded by the first command that expects a reply)

            self._bytes_at_write = self._port.bytes_read
            if asking:
                # a reply answers the query, never a data frame: it is no poll request
                # (``UnaskedFrames.asked_at``), which a frame would be owed
                self._bytes_at_ask, self._query_at = self._bytes_at_write, now
            self._answering_at_write = (
                self._port.framer.frames != self._frames_at_open and self._port.state != "stale"
            )
            watch = self._replies
            if watch is None:
                watch = AckWatch([(command, acks)])
            else:  # late replies still watched: this one's bytes follow theirs
                watch.expect(command, acks)
            self._watch(watch)
            self._acks_until = now + ACK_TIMEOUT_S
            self._setup_tries = 1
        else:
            self._setup_step_done(now)

    def _write_setup(self, index: int, *, query: bool = False) -> bool:
        """Write set-up command ``index`` (``query``: the query of the setting it stores);
        True when the port took it. A port that fails is disconnected; a device that does
        not read its input gets no set-up command more on this connect (logged)."""
        port = self._port
        source = port.source
        assert source is not None
        asked = self._queries[index] if query else None
        data = self._setup[index][1] if asked is None else asked[0]
        try:
            sent = source.try_write(data)
        except SourceError as exc:
            port.disconnect(str(exc))
            return False
        if not sent:
            port.log.warning(
                "device is not reading; set-up commands not sent",
                commands=[name for name, _, _ in self._setup[index:]],
            )
            self._setup_sent = len(self._setup)
            return False
        port.flush_capture()  # the chunks read before it go first
        now = self._clock()
        port.capture.tx(now, data)
        if self._unasked is not None:
            self._unasked.written(port.framer.frames, now)
        return True

    def _setup_step_done(self, now: float) -> None:
        """The set-up command just written is acknowledged, or needs no acknowledgement, or
        its time is up: the next command, or the first poll, after :data:`SETUP_GAP_S`."""
        if self._setup_sent < len(self._setup):
            self._setup_at = now + SETUP_GAP_S
            return
        # the run is over: the next may start a wait from now
        self._rerun_at = now + self.rerun_wait
        self._recheck_ignored = False
        ignored, self._ignored_again = self._ignored_again, []
        if ignored:  # each command the re-run missed, in one line
            replies = self._replies
            if replies is not None and replies.late:
                # their late replies may still come: told when the watch for them ends
                self._ignored_late = ignored
            else:
                self._log_ignored(ignored)
        self._skip_restarting = False
        unasked = self._unasked
        if unasked is not None:  # frames between polls count from here
            unasked.run_ended()
            self._frames_at_request = self._port.framer.frames
            self._bytes_at_request = self._port.bytes_read
            self._refusals = 0
        if self._config.poll is not None and self.next_poll_at is None:
            # a frame before the first poll tells a device that streams on
            # (``UnaskedFrames.streamed``)
            watch = None if unasked is None else unasked.stream_watch
            self.next_poll_at = (
                now + SETUP_GAP_S if watch is None else max(now + SETUP_GAP_S, watch)
            )
            if not self._rerunning:
                # a polled device is silent until asked: its staleness counts from the first
                # poll
                self._port.count_stale_from(self.next_poll_at)
        self._rerunning = False

    # -- polls -----------------------------------------------------------------------------------
    def _poll(self, now: float) -> None:
        """Write the poll request, the one before counted as a poll timeout when no frame
        answered it. The bytes the framer holds for a frame not complete yet are dropped once
        the request is written (``Framer.drop_pending``): its reply cannot begin before it,
        and garbage or a prompt that looks like the start of a frame would hold the replies
        back, or take the start of one. A device that sent more than one frame since the last
        request streams as well: what it holds may be the start of its next frame, and is
        kept. The capture journal is flushed before the request goes into the ring, so the
        ring keeps the bytes in the order they went over the wire."""
        poll = self._config.poll
        assert poll is not None
        port = self._port
        source = port.source
        assert source is not None
        unasked = self._unasked
        if unasked is not None:  # no frame came before it: the device took the command
            unasked.stream_watch = None
        last = self._last_turn
        if not self.awaiting_response:
            self._silent_polls = 0
            self._spell_spoilt = self._spell_silent = False
            if last is not None:
                self._requests.answered(
                    last,
                    port.framer.frames - self._frames_at_request,
                    self._refusals,
                    self._last_status,
                    now,
                )
        else:
            if self._period_step is None:  # one on a working period sleeps between its runs
                self.poll_timeouts += 1
            # the device's answer came, its frame spoilt on the line (a start byte lost):
            # it was powered, which ends a silence as an answer does; an answer of its boot
            # tells the sensor it restarted
            spoilt = self._spoilt_answer()
            booted = spoilt is not None and port.spoilt_boot(spoilt[1], now)
            # a request the device never answered while it answered another is one it does
            # not serve: it says nothing of a silence
            answered = self._requests.ever_answered
            if spoilt is not None:
                self._silent_polls = 0
                self._spell_spoilt = True
            elif last is None or answered[last] or not any(answered):
                self._silent_polls += 1
                # a device whose set-up gives it a working period sleeps between its runs
                if self._silent_polls == SILENT_POLLS and self._period_step is None:
                    self._spell_silent = True
                    port.went_silent()
            if last is not None:
                self._requests.unanswered(last, now)
            if self._period_step is not None:  # asleep, as its working period has it
                self._errors.hold("poll")
                held = None
            else:
                held = self._unanswered("poll")
            if held is not None:
                fields = {} if last is None else {"request": self._requests.shown(last)}
                if spoilt is not None:
                    fields["spoilt_answer"] = shown(spoilt[0], binary=True)
                    fields["hint"] = SPOILT_BOOT_ANSWER_HINT if booted else SPOILT_ANSWER_HINT
                port.log.warning(
                    "no response to poll request",
                    interval_s=poll.interval_s,
                    **fields,
                    suppressed=held,
                )
        interval = source.poll_interval_s(poll.interval_s)
        self.next_poll_at = (self.next_poll_at or now) + interval
        if self.next_poll_at <= now:  # fell behind (suspend, long stall): do not burst
            self.next_poll_at = now + interval
        request = self._poll_requests[self._poll_turn]
        try:
            sent = source.try_write(request)
        except SourceError as exc:
            port.disconnect(str(exc))
            return
        self.awaiting_response = sent
        if self._spoilt is not None:
            port.heard = bytearray() if sent else None
        self._last_turn = self._poll_turn if sent else None
        self._poll_turn = (self._poll_turn + 1) % len(self._poll_requests)
        if sent:
            port.flush_capture()  # the chunks read before it go first
            port.capture.tx(now, request)
            framer = port.framer
            frames = framer.frames
            got = frames - self._frames_at_request
            if got <= 1:  # replies only: nothing of its own
                framer.drop_pending()
                replies = self._replies
                if replies is not None:
                    # late replies watched: the bytes held back as one's first stay held
                    # for its rest (an adapter cuts a reply anywhere), and are dropped as
                    # the framer's were when no reply follows (``AckWatch.polled``); a frame
                    # they end whole was framed as they came (``frame_end``)
                    replies.polled()
            self._frames_at_request = frames
            heard = port.bytes_read != self._bytes_at_request
            self._bytes_at_request = port.bytes_read
            self._refusals = 0
            if unasked is not None:
                unasked.polled(got, now, heard=heard)
        else:  # the device is not reading its input: no answer will come either
            self.poll_timeouts += 1
            held = self._unanswered("poll-write")
            if held is not None:
                port.log.warning("device is not reading; poll request not sent", suppressed=held)

    def _spoilt_answer(self) -> tuple[bytes, bytes] | None:
        """The bytes read after the last poll request, and the answer made whole, when they
        are the device's answer spoilt on the line (``_spoilt``); None when they are not, or
        cannot be told."""
        check = self._spoilt
        heard = self._port.heard
        if check is None or heard is None:
            return None
        data = bytes(heard)
        whole = check(data)
        return None if whole is None else (data, whole)

    @property
    def refuses_what_it_took(self) -> bool:
        """Whether the device refuses a poll request ``UNANSWERED_HINT_POLLS`` times in a row
        that it took before since the port opened, while it answers another: a device
        power-cycled behind the open port, idle until its set-up starts it again (an SPS30
        that answers its status register but refuses the measurement with state 43)."""
        return self._requests.refuses_what_it_took

    def refused(self, status: int) -> None:
        """A frame came whose status byte, ``status``, the spec's check rejects
        (``sensord.formats.frames_decode.status_check``): an answer that refuses the request in
        flight, unless another frame since it was written is one the device did not refuse."""
        self._refusals += 1
        self._last_status = status

    def request_hint(self, now: float) -> str | None:
        """Of several poll requests, one the device left unanswered ``UNANSWERED_HINT_POLLS``
        times in a row or more while it answers another (a BMS that does not serve one of the
        data ids asked, a request with a mistake in it), or refused as many times while it
        answers another with a frame it does not refuse (an SPS30 whose firmware does not have
        the command): which, how often and for how long, and the status a refused one got
        back, for ``/status``; None otherwise (a device that answers none goes stale, one
        that refuses every request has the hint of rejected frames). Any frame answers the
        request before it: of a device that also sends unasked, a request it does not serve is
        not told. First, of a PMS polled faster than ``FAST_POLLS_S``, the re-runs that
        late frames brought since it last answered only its polls for a whole re-run wait,
        with why (``FAST_POLLS_HINT``: a lossy line at such a pace looks so)."""
        hints = []
        fast = None if self._unasked is None else self._unasked.fast_polls_hint(now)
        if fast is not None:
            hints.append(fast)
        hints += self._requests.hints(now)
        return "; and ".join(hints) or None

    def _unanswered(self, key: str) -> int | None:
        """A poll that got no answer (``key``: which kind), as ``RateLimiter.check``: once a
        minute at most, and not while the sensor is stale, whose state line names the poll and
        whose hourly reminder tells it goes on (a device dead for a month would otherwise
        leave a line a minute); the next line of ``key`` tells of those held back."""
        if self._port.state == "stale":
            self._errors.hold(key)
            return None
        return self._errors.check(key)

    def frames_came(self, count: int, now: float) -> None:
        """``count`` frames came at ``now``: a poll request that awaited its answer has it.
        Of a device whose set-up leaves it sending only when asked, polled since its last
        set-up run, they tell whether it sends unasked (``UnaskedFrames.frames_came``): a
        frame alone that answers its poll is its answer (of a PMS, when it came within
        ``answer_within_s`` of the poll), judged here, on the path of each answer. A frame
        before the first poll after its set-up, while that poll waits for it, tells that it
        streams on (``UnaskedFrames.streamed``). A device polled on a working period (an
        SDS011 in query mode) whose poll is answered after those its sleep left unanswered
        (or the first since the open) has begun a run (``DialoguePort.run_began``)."""
        asked = self.awaiting_response
        self.awaiting_response = False
        unasked = self._unasked
        if unasked is None:
            return
        if unasked.stream_watch is not None:  # before the first poll: the device streams on
            unasked.stream_watch = None
            unasked.streams_on(now)
            return
        if unasked.asked_at == -math.inf:
            return
        sleep = self._sleep_polls
        if asked and sleep is not None and (self._silent_polls >= sleep or self._run_unknown):
            self._port.run_began(now)  # asleep until now, or maybe (the first since the open)
        if asked:
            self._run_unknown = False
            if count == 1:  # the poll's answer alone
                if not unasked.judges_late:
                    return
                if now - unasked.asked_at <= unasked.answer_within_s:
                    unasked.timely = True
                    return
        unasked.frames_came(asked, count, now)
