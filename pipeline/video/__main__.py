"""``python -m pipeline.video``."""

import sys

from pipeline.video.cli import main

sys.exit(main())
