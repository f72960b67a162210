"""``python -m sensord``."""

from sensord.launch import main

raise SystemExit(main())
