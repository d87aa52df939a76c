"""`python -m clearhouse` is the `clearhouse` command."""

from clearhouse.cli import main

main()
