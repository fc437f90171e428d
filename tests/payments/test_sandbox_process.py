"""The Stripe sandbox we launch (scripts/procs.py) keeps its store in memory: no pickle per request.

localstripe pickles its whole store to /tmp/localstripe.pickle after every write, which was 77 % of
the sandbox's CPU in the payment turn (bench/results/before_after/8_profile_channel_after_warm_up.md).
Our launcher never reloads that file, so its process switches the dump off.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from scripts import procs

pytestmark = pytest.mark.sandbox

PROBE = """
import builtins, json
opened = []
real_open = builtins.open
def spy(file, *args, **kwargs):
    opened.append(str(file))
    return real_open(file, *args, **kwargs)
builtins.open = spy
from localstripe.resources import store
from localstripe.server import app
store['probe'] = 1
del store['probe']
store.dump_to_disk()
print(json.dumps([name for name in opened if 'localstripe' in name]))
"""


def test_the_launched_sandbox_never_writes_its_store_to_disk() -> None:
    code = f"{procs.SANDBOX_SETUP}\n{PROBE}"
    done = subprocess.run(
        [str(procs.APP_PYTHON), "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    # The launch command runs that setup before the server's app is imported.
    assert procs.SANDBOX_CODE.index(procs.SANDBOX_SETUP) < procs.SANDBOX_CODE.index("localstripe.server")


def test_the_sandbox_keeps_what_was_written_while_it_runs(stripe_sandbox: str) -> None:
    request = urllib.request.Request(
        f"{stripe_sandbox}/v1/customers",
        data=b"email=kept%40example.com",
        headers={"Authorization": "Bearer sk_test_paychat_tests"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        customer = json.load(response)["id"]
    fetch = urllib.request.Request(
        f"{stripe_sandbox}/v1/customers/{customer}", headers={"Authorization": "Bearer sk_test_paychat_tests"}
    )
    with urllib.request.urlopen(fetch, timeout=10) as response:
        assert json.load(response)["email"] == "kept@example.com"
