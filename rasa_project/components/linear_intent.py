"""Rasa intent classifier: a linear SVM on stacked sentence features, with calibrated confidence.

Each message's sentence features are stacked in blocks: every sparse featurizer named in
`sparse_featurizers` (word and character n-gram counts) becomes a sublinear TF-IDF block,
L2-normalised, and every dense featurizer in `dense_featurizers` (the MiniLM sentence
embedding) is added times `dense_weight`. A one-vs-rest linear SVM (scikit-learn's LinearSVC)
learns the intents. This is the classic strong baseline for short-text intent detection, it
trains in seconds, and predicting is one sparse dot product — far cheaper than DIET.

Confidence: the SVM's scores are turned into a ranking with a softmax at a temperature chosen
by cross-validation on the training data (lowest log-loss on held-out folds), so the
FallbackClassifier's threshold reads a probability-like number. With `mlp_weight` > 0 a small
neural network (one hidden ReLU layer, scikit-learn's MLPClassifier) on the dense sentence
embedding is averaged in: it sees the embedding non-linearly, which the SVM cannot, and the
average was steadily better than the SVM alone in 5-fold cross-validation on BANKING77's training
split (+0.4 points; bench/banking77.py). The trained model is stored as plain numpy arrays and
JSON (no pickle); predicting needs numpy only.

`span_flags` adds one feature per listed label of the spaCy entity ruler's spans (e.g. "a date
span is present"): whether a message names a day is what tells "pay 20 on the gas bill" from
"pay 20 on the gas bill next friday", and the rules know dates better than n-grams do. The
blend's sharpness is calibrated on held-out folds too (a power of the averaged probabilities).

Low evidence: a message of two or more words in which nothing is known — no word of the first
sparse featurizer's vocabulary (the training words), no capitalised word (a name), no amount or
date span — gets its
probabilities scaled by `unknown_message_confidence`, so keyboard mashing ("qwxz blorp") falls
back to "did you mean…?" instead of being read as the name of some company.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

TEMPERATURES = np.geomspace(0.02, 2.0, 41)


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of `scores / temperature`."""
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def best_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The temperature whose softmax gives the held-out labels the lowest mean log-loss."""
    losses = []
    for t in TEMPERATURES:
        p = softmax(scores, t)[np.arange(len(labels)), labels]
        losses.append(-np.log(np.maximum(p, 1e-12)).mean())
    return float(TEMPERATURES[int(np.argmin(losses))])


SHARPNESS = np.linspace(0.5, 4.0, 36)


def sharpen(proba: np.ndarray, power: float) -> np.ndarray:
    """Probabilities raised to `power` and renormalised (power > 1 makes them more decided)."""
    p = np.power(np.maximum(proba, 1e-12), power)
    return p / p.sum(axis=1, keepdims=True)


def best_sharpness(proba: np.ndarray, labels: np.ndarray) -> float:
    """The power whose sharpened probabilities give the held-out labels the lowest log-loss."""
    losses = [-np.log(sharpen(proba, a)[np.arange(len(labels)), labels]).mean() for a in SHARPNESS]
    return float(SHARPNESS[int(np.argmin(losses))])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(IntentClassifier, GraphComponent):
    """Linear SVM over TF-IDF n-gram blocks and weighted sentence embeddings."""

    @classmethod
    def required_components(cls) -> List[type]:
        """Featurizers must run first."""
        return [Featurizer]

    @staticmethod
    def required_packages() -> List[Text]:
        """scikit-learn trains the SVM (predicting needs numpy only)."""
        return ["sklearn"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Which featurizers (by alias) to stack, the SVM's C, calibration and ranking length."""
        return {
            "sparse_featurizers": [],
            "dense_featurizers": [],
            "dense_weight": 1.5,
            "C": 0.5,
            "calibration_folds": 3,
            "mlp_weight": 0.5,
            "span_flags": [],
            "unknown_message_confidence": 0.4,
            "span_flag_weight": 1.0,
            "mlp_hidden": 512,
            "mlp_iterations": 60,
            "ranking_length": 10,
            "random_seed": 1234,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Dict[str, Any]] = None,
    ) -> None:
        """A classifier, trained when `model` holds its arrays."""
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LinearIntentClassifier":
        """An untrained classifier."""
        return cls(config, model_storage, resource)

    # --- features ------------------------------------------------------------------------------

    def _raw_blocks(self, messages: List[Message]) -> Tuple[List[scipy.sparse.csr_matrix], List[np.ndarray]]:
        """Sentence-level count matrices (one per sparse featurizer) and dense matrices."""
        sparse_blocks = []
        for index, alias in enumerate(self.config["sparse_featurizers"]):
            width = self.model["sparse_widths"][index] if self.model else None
            rows = []
            for message in messages:
                features = message.get_sparse_features(TEXT, [alias])[1]
                rows.append(features.features.tocsr() if features is not None else None)
            if width is None:
                width = next((r.shape[1] for r in rows if r is not None), 0)
            rows = [r if r is not None else scipy.sparse.csr_matrix((1, width)) for r in rows]
            sparse_blocks.append(scipy.sparse.vstack(rows, format="csr") if rows else None)
        dense_blocks = []
        if self.config["span_flags"]:
            dense_blocks.append(self._span_flags(messages))
        for alias in self.config["dense_featurizers"]:
            vectors = []
            for message in messages:
                features = message.get_dense_features(TEXT, [alias])[1]
                if features is None:
                    raise ValueError(f"message {message.get(TEXT)!r} has no sentence features from {alias}")
                vectors.append(np.asarray(features.features, dtype=np.float32).reshape(-1))
            dense_blocks.append(np.vstack(vectors))
        return sparse_blocks, dense_blocks

    def _span_flags(self, messages: List[Message]) -> np.ndarray:
        """1.0 per configured span label the spaCy pipeline marked in the message, else 0.0."""
        labels = list(self.config["span_flags"])
        flags = np.zeros((len(messages), len(labels)), dtype=np.float32)
        for row, message in enumerate(messages):
            doc = message.get(SPACY_DOCS[TEXT])
            found = {ent.label_ for ent in doc.ents} if doc is not None else set()
            flags[row] = [1.0 if label in found else 0.0 for label in labels]
        return flags * np.float32(self.config["span_flag_weight"] / self.config["dense_weight"])

    @staticmethod
    def _tfidf(counts: scipy.sparse.csr_matrix, idf: np.ndarray) -> scipy.sparse.csr_matrix:
        """Sublinear term frequency times idf, each row L2-normalised."""
        x = counts.astype(np.float64).tocsr(copy=True)
        x.data = 1.0 + np.log(np.maximum(x.data, 1.0))
        x = x.multiply(idf.reshape(1, -1)).tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).reshape(-1))
        return scipy.sparse.diags(1.0 / np.maximum(norms, 1e-12)).dot(x).tocsr()

    def _stack(
        self,
        sparse_blocks: List[scipy.sparse.csr_matrix],
        dense_blocks: List[np.ndarray],
        idfs: List[np.ndarray],
    ) -> scipy.sparse.csr_matrix:
        parts = [self._tfidf(block, idf) for block, idf in zip(sparse_blocks, idfs, strict=True)]
        parts += [scipy.sparse.csr_matrix(block * self.config["dense_weight"]) for block in dense_blocks]
        return scipy.sparse.hstack(parts, format="csr")

    # --- training ------------------------------------------------------------------------------

    def _fit_svm(self, x: scipy.sparse.csr_matrix, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        from sklearn.svm import LinearSVC

        svm = LinearSVC(C=self.config["C"], random_state=self.config["random_seed"], max_iter=5000)
        svm.fit(x, y)
        coef, intercept = svm.coef_, svm.intercept_
        if coef.shape[0] == 1:  # two classes: sklearn keeps one row
            coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
        return coef.astype(np.float32), intercept.astype(np.float32)

    def _calibrate(
        self, x: scipy.sparse.csr_matrix, y: np.ndarray, embeddings: Optional[np.ndarray]
    ) -> Tuple[float, float]:
        """SVM temperature and blend sharpness from held-out folds; (1.0, 1.0) with too little data."""
        folds = int(self.config["calibration_folds"])
        if folds < 2 or np.bincount(y).min() < folds:
            return 1.0, 1.0
        from sklearn.model_selection import StratifiedKFold

        classes = int(y.max()) + 1
        scores = np.zeros((len(y), classes), dtype=np.float32)
        mlp_proba = np.zeros((len(y), classes), dtype=np.float32)
        use_mlp = embeddings is not None and self.config["mlp_weight"] > 0 and classes >= 3
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.config["random_seed"])
        for train_idx, held_idx in splitter.split(np.zeros(len(y)), y):
            coef, intercept = self._fit_svm(x[train_idx], y[train_idx])
            scores[held_idx] = x[held_idx].dot(coef.T) + intercept
            if use_mlp:
                weights = self._fit_mlp(embeddings[train_idx], y[train_idx], classes)
                if weights is not None and weights[3].shape[0] == classes:
                    mlp_proba[held_idx] = self._mlp_proba(weights, embeddings[held_idx])
        temperature = best_temperature(scores, y)
        if not use_mlp:
            return temperature, 1.0
        weight = self.config["mlp_weight"]
        blend = (1 - weight) * softmax(scores, temperature) + weight * mlp_proba
        return temperature, best_sharpness(blend, y)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the TF-IDF weights, the SVM and the confidence temperature."""
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        labels = sorted({e.get(INTENT) for e in examples})
        if len(labels) < 2:
            logger.warning("LinearIntentClassifier needs at least two intents; not trained")
            return self._resource
        y = np.array([labels.index(e.get(INTENT)) for e in examples])
        sparse_blocks, dense_blocks = self._raw_blocks(examples)
        n = len(examples)
        idfs = []
        for block in sparse_blocks:
            df = np.bincount(block.indices, minlength=block.shape[1])
            idfs.append((np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float64))
        x = self._stack(sparse_blocks, dense_blocks, idfs)
        temperature, sharpness = self._calibrate(x, y, self._embeddings(dense_blocks))
        coef, intercept = self._fit_svm(x, y)
        mlp = self._fit_mlp(self._embeddings(dense_blocks), y, len(labels))
        self.model = {
            "labels": labels,
            "sparse_widths": [b.shape[1] for b in sparse_blocks],
            "idfs": idfs,
            "coef": coef,
            "intercept": intercept,
            "temperature": temperature,
            "sharpness": sharpness,
            "mlp": mlp,
        }
        logger.info(
            f"LinearIntentClassifier: {n} examples, {len(labels)} intents, temperature {temperature:.3f}"
        )
        self.persist()
        return self._resource

    def _fit_mlp(
        self, dense: Optional[np.ndarray], y: np.ndarray, classes: int
    ) -> Optional[List[np.ndarray]]:
        """Weights of a one-hidden-layer ReLU network on the dense features (None when unused)."""
        if dense is None or self.config["mlp_weight"] <= 0 or classes < 3:
            return None
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        mlp = MLPClassifier(
            hidden_layer_sizes=(self.config["mlp_hidden"],),
            max_iter=self.config["mlp_iterations"],
            alpha=1e-3,
            random_state=self.config["random_seed"],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed budget of epochs, on purpose
            mlp.fit(dense, y)
        return [
            a.astype(np.float32)
            for a in (mlp.coefs_[0], mlp.intercepts_[0], mlp.coefs_[1], mlp.intercepts_[1])
        ]

    def _embeddings(self, dense_blocks: List[np.ndarray]) -> Optional[np.ndarray]:
        """The sentence-embedding blocks (the span flags, when configured, come first)."""
        blocks = dense_blocks[1:] if self.config["span_flags"] else dense_blocks
        return np.hstack(blocks) if blocks else None

    @staticmethod
    def _mlp_proba(weights: List[np.ndarray], dense: np.ndarray) -> np.ndarray:
        w1, b1, w2, b2 = weights
        hidden = np.maximum(dense @ w1 + b1, 0.0)
        return softmax(hidden @ w2 + b2, 1.0)

    # --- predicting ----------------------------------------------------------------------------

    def predict_proba(self, messages: List[Message]) -> np.ndarray:
        """Calibrated intent probabilities, one row per message (columns: `model['labels']`)."""
        assert self.model is not None
        sparse_blocks, dense_blocks = self._raw_blocks(messages)
        x = self._stack(sparse_blocks, dense_blocks, self.model["idfs"])
        scores = np.asarray(x.dot(self.model["coef"].T)) + self.model["intercept"]
        proba = softmax(scores, self.model["temperature"])
        if self.model.get("mlp") is not None:
            weight = self.config["mlp_weight"]
            mlp = self._mlp_proba(self.model["mlp"], self._embeddings(dense_blocks))
            proba = sharpen((1 - weight) * proba + weight * mlp, self.model.get("sharpness", 1.0))
        unknown = self._nothing_known(messages, sparse_blocks)
        proba[unknown] *= self.config["unknown_message_confidence"]
        return proba

    def _nothing_known(
        self, messages: List[Message], sparse_blocks: List[scipy.sparse.csr_matrix]
    ) -> np.ndarray:
        """True for messages with no known word, no capitalised word and no ruler span."""
        if not sparse_blocks:
            return np.zeros(len(messages), dtype=bool)
        no_words = np.diff(sparse_blocks[0].indptr) == 0
        out = np.zeros(len(messages), dtype=bool)
        for row, message in enumerate(messages):
            if not no_words[row]:
                continue
            doc = message.get(SPACY_DOCS[TEXT])
            has_span = doc is not None and any(ent.label_ in ("amount", "date") for ent in doc.ents)
            text = str(message.get(TEXT))
            has_name = any(word[:1].isupper() for word in text.split())
            # One unknown word is usually slang or a stretched word ("heyyy"): the character n-grams
            # and the embedding read it well. Two or more, none known, is mashing or another language.
            words = [word for word in text.split() if any(char.isalpha() for char in word)]
            out[row] = len(words) >= 2 and not has_span and not has_name
        return out

    def process(self, messages: List[Message]) -> List[Message]:
        """Set `intent` and `intent_ranking` on each message."""
        todo = [m for m in messages if m.get(TEXT)]
        if self.model is None or not todo:
            return messages
        labels = self.model["labels"]
        for message, row in zip(todo, self.predict_proba(todo), strict=True):
            order = np.argsort(-row)
            ranking = [{"name": labels[i], "confidence": float(row[i])} for i in order]
            if self.config["ranking_length"] > 0:
                ranking = ranking[: self.config["ranking_length"]]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    # --- storage -------------------------------------------------------------------------------

    def persist(self) -> None:
        """Arrays in an .npz (no pickle), labels and settings in JSON."""
        assert self.model is not None
        with self._model_storage.write_to(self._resource) as directory:
            arrays = {"coef": self.model["coef"], "intercept": self.model["intercept"]}
            arrays.update({f"idf_{i}": idf for i, idf in enumerate(self.model["idfs"])})
            if self.model.get("mlp") is not None:
                arrays.update({f"mlp_{i}": w for i, w in enumerate(self.model["mlp"])})
            np.savez(directory / "linear_intent.npz", **arrays)
            meta = {k: self.model[k] for k in ("labels", "sparse_widths", "temperature", "sharpness")}
            (directory / "linear_intent.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "LinearIntentClassifier":
        """The trained classifier, or an untrained one when nothing was stored."""
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / "linear_intent.json").read_text(encoding="utf-8"))
                with np.load(directory / "linear_intent.npz", allow_pickle=False) as arrays:
                    model = {
                        **meta,
                        "coef": arrays["coef"],
                        "intercept": arrays["intercept"],
                        "idfs": [arrays[f"idf_{i}"] for i in range(len(meta["sparse_widths"]))],
                        "mlp": [arrays[f"mlp_{i}"] for i in range(4)] if "mlp_0" in arrays.files else None,
                    }
        except (ValueError, FileNotFoundError):
            logger.debug("LinearIntentClassifier: no trained model stored; starting untrained")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, model)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Classify the training examples too (other components may read the intent)."""
        self.process(training_data.training_examples)
        return training_data
