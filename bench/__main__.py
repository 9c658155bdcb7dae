"""``python -m bench``: see bench/cli.py."""

import sys

from local.template import ROOT

# The functions' import roots, as pytest's pythonpath sets them: the in-process benches import them.
sys.path.insert(0, str(ROOT / "contract"))
sys.path.insert(0, str(ROOT / "orchestrator"))
sys.path.insert(0, str(ROOT / "completion_relay"))

from bench.cli import main

raise SystemExit(main())
