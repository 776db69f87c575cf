"""``python -m pipeline.video``."""

import sys

from pipeline.video.cli import main

if __name__ == "__main__":
    sys.exit(main())
