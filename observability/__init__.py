"""What whoever is on call reads: structured JSON logs and Prometheus metrics, one way in every process.

`observability.context` carries the conversation and payment a line is about (contextvars, so they
follow a turn through `asyncio.to_thread` into the payments core and the Stripe gateway);
`observability.logs` writes one JSON object per line with those ids and no personal data;
`observability.metrics` holds the process's Prometheus metrics and serves `/metrics`.
`context` and `logs` are standard library only (plus `privacy`): the Rasa process imports them too.
"""
