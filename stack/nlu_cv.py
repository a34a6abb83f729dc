"""``python -m stack.nlu_cv``: choose TF-IDF options by cross-validation on ``nlu/`` only.

Held-out sets must not guide tuning (they would stop measuring anything). This
compares the TF-IDF + logistic-regression intent model on raw and on normalised
text (:mod:`rasa_components.normalise`) with stratified 5-fold cross-validation of
the training data, and prints macro-F1 per shuffle.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline, make_union

from akto_data.nlu_examples import read_examples
from rasa_components.normalise import normalise
from stack.nlu_eval import TRAINING_DIR


def tfidf_model(preprocessor: Callable[[str], str] | None) -> Pipeline:
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, preprocessor=preprocessor),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, preprocessor=preprocessor),
    )
    return make_pipeline(features, LogisticRegression(C=10, max_iter=3000))


def main() -> None:
    examples = read_examples(sorted(TRAINING_DIR.glob("*.yml")))
    texts = np.array([e.text for e in examples])
    intents = np.array([e.intent for e in examples])
    variants = {"raw (lower case)": str.lower, "normalised": normalise}
    for seed in (0, 1):
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        for name, preprocessor in variants.items():
            scores = [f1_score(intents[test], tfidf_model(preprocessor).fit(texts[train], intents[train])
                               .predict(texts[test]), average="macro")
                      for train, test in folds.split(texts, intents)]
            print(f"shuffle {seed}  {name:18s} macro-F1 {np.mean(scores):.3f}")


if __name__ == "__main__":
    main()
