"""`python -m kimchi_plugin` runs the brain server (= `kimchi-plugin serve`). Started without arguments, as the shim
starts it, the server runs without the command line parser (argparse, and the shutil and gettext it pulls in, cost
a few ms of OpenCode's start)."""

import sys

if len(sys.argv) > 1:
    from kimchi_plugin.cli import main

    raise SystemExit(main())

from kimchi_plugin.app import run_server

raise SystemExit(run_server())
