"""`python -m paychat …` runs the operator command line (paychat.cli)."""

from paychat.cli import app

app(prog_name="paychat")
