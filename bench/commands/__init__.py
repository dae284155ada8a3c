"""Sub-commands of `liftbench`; each module defines `add_parser(subparsers)`."""
