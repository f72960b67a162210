"""``python -m sensord``."""

from sensord.cli import main

raise SystemExit(main())
