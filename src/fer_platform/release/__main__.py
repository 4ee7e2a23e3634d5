"""python -m fer_platform.release {export,ensemble} ... (see fer_platform.release)."""

from fer_platform.release.cli import main

raise SystemExit(main())
