"""The console's GET /metrics: Prometheus text for staff, the turn latency after a chat turn."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.console.conftest import Seed, login


def sample(text: str, name: str, labels: dict[str, str]) -> float:
    """The value of the sample `name{labels}` in Prometheus exposition text (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


def test_metrics_need_a_staff_login(client: TestClient, seed: Seed) -> None:
    assert client.get("/metrics").status_code == 303  # the login page, like every console page


def test_a_chat_turn_shows_in_the_turn_latency_histogram(client: TestClient, seed: Seed) -> None:
    tester = {"X-CSRF-Token": login(client, "tester")}
    turns = {"channel": "console", "outcome": "answered"}
    before = sample(client.get("/metrics").text, "paychat_turn_seconds_count", turns)
    assert client.post("/api/chat", json={"session": "m1", "text": "hi"}, headers=tester).status_code == 200

    scraped = client.get("/metrics")

    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert sample(scraped.text, "paychat_turn_seconds_count", turns) == before + 1
    assert "# TYPE paychat_payment_outcomes_total counter" in scraped.text
    assert "# TYPE paychat_stripe_errors_total counter" in scraped.text
