#!/usr/bin/env python3
"""`python send.py ARGS` is `chairside ARGS`, straight from a checkout (no install needed).

The libraries Chairside uses must still be installed: `pip install -e .` does both.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from chairside.cli import main

if __name__ == "__main__":
    main()
