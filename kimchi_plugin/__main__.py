"""`python -m kimchi_plugin` runs the brain server (= `kimchi-plugin serve`)."""

from kimchi_plugin.cli import main

raise SystemExit(main())
