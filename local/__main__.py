"""``python -m local``: see local/cli.py."""

import sys

from local.template import ROOT

sys.path.insert(0, str(ROOT / "contract"))  # the timeline redacts callback ids the way the functions do

from local.cli import main

raise SystemExit(main())
