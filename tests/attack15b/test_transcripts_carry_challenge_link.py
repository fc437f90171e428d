"""attack15b: transcripts keep the assistant's 3-D Secure reply with its signed link, and every
viewer reads it on the transcript page, in the JSON API and in the CSV/JSON exports.

`utter_payment_requires_action` puts the payment's `next_action_url` (the bank page's link, signed
with the challenge key) in the reply; the reply is recorded as the turn's assistant text, and review
redaction masks personal data but not links. The link is all the sandbox bank page asks for (see
test_viewer_reads_challenge_link: opening it a viewer passes the customer's challenge), and an
export hands it to whoever gets the file.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

import transcripts
from payments.challenge import challenge_url
from tests.console.conftest import Seed, channel_body, login
from tests.payments.test_three_d_secure import KEY, PUBLIC_URL

LINK = challenge_url(PUBLIC_URL, KEY, "pi_3dsChallengeLeak01")
REPLY = (
    "Your bank wants you to approve the payment of €84.20 to Stadtwerke (3-D Secure). "
    f"Please open this link to finish: {LINK}"
)  # utter_payment_requires_action, as domain.yml words it
SIG = LINK.rsplit("sig=", 1)[1]


@pytest.fixture
def challenged(session_factory: sessionmaker[Session], seed: Seed) -> int:
    """Customer 555's turn that confirmed a payment and got the 3-D Secure reply."""
    with session_factory.begin() as session:
        transcripts.record_turn(
            session,
            sender_id="tg-555",
            channel="telegram",
            user_id=seed.customer_id,
            is_test=False,
            user_text="yes",
            turn=channel_body(REPLY, intent="affirm"),
        )
    return seed.customer_id


@pytest.mark.parametrize("path", ["/api/transcripts.json", "/api/transcripts.csv", "/transcripts"])
def test_viewers_never_get_a_signed_challenge_link_from_transcripts(
    client: TestClient, challenged: int, path: str
) -> None:
    login(client, "viewer")
    response = client.get(path, params={"q": "3-D Secure"} if path.startswith("/api") else {})
    assert response.status_code == 200
    if path == "/transcripts":  # the list page: open the conversation it links to
        conversation = client.get("/api/transcripts").json()
        items = conversation if isinstance(conversation, list) else conversation.get("items", [])
        response = client.get(f"/transcripts/{items[0]['id']}")
        assert response.status_code == 200, response.text
    assert "3-D Secure" in response.text  # the turn is there
    assert SIG not in response.text, f"{path} carries the signed link {LINK}"
