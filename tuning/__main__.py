"""`python -m tuning`: the same as the `paychat-tune` command."""

from tuning.cli import main

main()
