"""The numpy all-MiniLM-L6-v2 encoder gives the reference embeddings and refuses altered weights.

Reference values: transformers 4.36.2 TFBertModel + BertTokenizer on the same files, mean-pooled
and L2-normalised (the sentence-transformers recipe), first six dimensions, rounded to 1e-5.
"""

from __future__ import annotations

import json
import os
import subprocess

from tests.rasa.conftest import PROJECT, RASA_PYTHON

SCRIPT = """
import json, shutil, sys, tempfile
from pathlib import Path
from components.minilm import ModelIntegrityError, MiniLMEncoder, default_model_dir, embed
vectors = embed(json.loads(sys.argv[1]))
folder = Path(tempfile.mkdtemp())
for name in ("model.safetensors", "vocab.txt"):
    shutil.copy(default_model_dir() / name, folder / name)
with open(folder / "model.safetensors", "r+b") as handle:
    handle.seek(-4, 2)
    handle.write(b"\\x00\\x00\\x80\\x3f")  # one weight changed
try:
    MiniLMEncoder(folder)
    refused = False
except ModelIntegrityError:
    refused = True
shutil.rmtree(folder)
print(json.dumps({"vectors": [[round(float(x), 5) for x in v[:6]] for v in vectors], "refused": refused}))
"""

REFERENCE = {
    "pay my electricity bill": [-0.03714, 0.11929, 0.03518, 0.03346, 0.02824, -0.06136],
    "Vodafone wants 45€ from me, can you pay that?": [
        -0.03505,
        -0.00641,
        -0.03713,
        -0.06228,
        0.0154,
        -0.04517,
    ],
}


def test_embeddings_match_the_reference_and_altered_weights_are_refused() -> None:
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT, json.dumps(list(REFERENCE))],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
        env=dict(os.environ, PYTHONPATH=str(PROJECT), TF_CPP_MIN_LOG_LEVEL="3"),
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    for (text, expected), got in zip(REFERENCE.items(), found["vectors"], strict=True):
        assert all(abs(a - b) <= 2e-5 for a, b in zip(expected, got, strict=True)), text
    assert found["refused"]
