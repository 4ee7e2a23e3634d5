"""python -m fer_platform.hosted {train,import} ... (see fer_platform.hosted)."""

from fer_platform.hosted.cli import main

raise SystemExit(main())
