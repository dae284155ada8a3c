"""`python -m liftbench ...` runs the `liftbench` command line."""

from liftbench.bench.cli import main

raise SystemExit(main())
