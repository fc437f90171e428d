"""The benchmarks' helper that runs in the Rasa environment (Python 3.10): parse or embed texts.

Run with the Rasa env's interpreter and PYTHONPATH=rasa_project (for the custom components):
  python bench/rasa_side.py parse MODEL.tar.gz OUT.json < texts.json
  python bench/rasa_side.py embed OUT.npy < texts.json
`parse` loads the model once in-process (rasa's Agent, NLU only) and parses each text one at a
time, recording the wall time of each parse (the latency a single user sees from the NLU) and the
process CPU time it used (less sensitive to other work on a shared machine).
`embed` writes all-MiniLM-L6-v2 sentence embeddings (the pipeline's own encoder) to a .npy file.
Imports nothing of the app environment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


def parse(model_path: str, texts: list[str]) -> list[dict]:
    """Intent, ranking (top 3), entities and seconds for each text, parsed one by one."""
    logging.disable(logging.WARNING)
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)

    async def run() -> list[dict]:
        for warmup in ("hello", "pay 20 euros to vodafone tomorrow"):
            await agent.parse_message(warmup)
        out = []
        for text in texts:
            started, cpu_started = time.perf_counter(), time.process_time()
            result = await agent.parse_message(text)
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            out.append(
                {
                    "text": text,
                    "intent": result["intent"],
                    "ranking": result.get("intent_ranking", [])[:3],
                    "entities": [
                        {k: e.get(k) for k in ("entity", "start", "end", "value", "extractor")}
                        for e in result.get("entities", [])
                    ],
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                }
            )
        return out

    return asyncio.run(run())


def embed(texts: list[str], out_path: str) -> None:
    """MiniLM sentence embeddings of `texts`, saved as a float32 .npy file."""
    import numpy as np
    from components.minilm import embed as minilm_embed

    np.save(out_path, minilm_embed(texts))


def main() -> None:
    """Dispatch on the first argument; texts come as a JSON list on stdin."""
    command = sys.argv[1]
    texts = json.load(sys.stdin)
    if command == "parse":
        # Rasa and TensorFlow print to stdout too: the answer goes to a file.
        with open(sys.argv[3], "w", encoding="utf-8") as out:
            json.dump(parse(sys.argv[2], texts), out)
    elif command == "embed":
        embed(texts, sys.argv[2])
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
