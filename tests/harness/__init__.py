"""One harness for the tests, scripts/bench and scripts/soak.

Modules, one job each:

``common``   :class:`HarnessError`, :func:`wait_for`, :func:`free_port`, the repository path;
``proc``     what ``/proc`` says about a process: descriptors, threads, RSS, CPU, switches;
``spawn``    every process the harness starts (:func:`~harness.spawn.popen`), ended with the
             test process however it ends, and what a session leaves running
             (:class:`~harness.spawn.Owner`);
``daemon``   ``sensord run`` as a subprocess (:class:`DaemonProcess`) and timed HTTP GETs;
``scrape``   a ``/metrics`` scrape parsed by ``prometheus_client.parser`` (:class:`Scrape`);
``notify``   a ``NOTIFY_SOCKET`` listener (:class:`NotifyListener`);
``pty``      pseudo-terminal devices: plain, behind a moving link, relayed over TCP;
``config``   TOML builders for sensors and channels, and atomic config writes;
``wire``     bytes a device sends (NMEA sentences with their checksum) at a line's pace, and
             what a UART at the wrong line settings receives of them;
``balance``  per-step record accounting checks with the per-reason counts a scenario implies;
``line_player`` frames written onto a line at set times by a process of its own, which
             records when it wrote them and how late the host let it run;
``rtu_responder`` an RTU device's answers (late, in an adapter's pieces, cut, or none) to each
             request, written by a process of its own;
``modbus_devices`` Modbus RTU devices (pymodbus's serial server behind a pty relay) served
             by a process of their own, which records how long each answer took;
``child``    the test's end of those processes: a spec in, ``ready``, a record out
             (:class:`Child`), and their stop at the end of a failed ``with`` block;
``host_lag`` how late the host ran the test's own process, and scenarios played again
             while it held them back more than they allow.

The tests import it as ``harness`` (pytest puts ``tests/`` on ``sys.path``); the scripts put
``tests/`` on ``sys.path`` themselves.
"""
