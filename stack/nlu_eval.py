"""``make eval``: how well the assistant understands, on messages it never saw.

Trains the model if needed, starts Rasa alone, and sends every message of the
held-out sets ``tests/nlu/heldout*.yml`` (never used for training) to
``/model/parse``. Prints per-topic precision/recall/F1, macro-F1, the most
frequent confusions, the out-of-scope catch rate, the same figures for a simple
baseline trained on the same data (TF-IDF + logistic regression), and the parse
latency and throughput. Entities (territory, occupation, age, contract year,
diploma level) are scored as the values the slots would get, on every held-out
message that annotates them and on the two entity sets written blind for that.
``--min-macro-f1`` / ``--min-oos`` turn targets into an exit code.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from akto_data.nlu_examples import read_examples
from akto_data.settings import PROJECT_ROOT
from stack.model import ensure_model
from stack.services import scratch_stack

#: Held-out sets, never trained on. The first was written with the training data;
#: the second later, by someone who saw neither the training data nor the first set;
#: the third (issue 13) blind too, on the families that still went wrong: how to enter
#: or what is an occupation, long messages mixing home, training place and money,
#: Creole greetings and small talk, one contract fact.
HELDOUT_SETS = (PROJECT_ROOT / "tests" / "nlu" / "heldout.yml", PROJECT_ROOT / "tests" / "nlu" / "heldout_fresh.yml",
                PROJECT_ROOT / "tests" / "nlu" / "heldout_families.yml")
#: Entities only (their intents just keep the files valid Rasa data): written blind, never
#: trained on. The first was read to design rasa_components/entity_values.py; the second
#: was kept unread to measure it.
ENTITY_SETS = (PROJECT_ROOT / "tests" / "nlu" / "heldout_entities.yml",
               PROJECT_ROOT / "tests" / "nlu" / "heldout_entities_blind.yml")
TRAINING_DIR = PROJECT_ROOT / "nlu"
#: Predictions that keep an out-of-scope message from getting a business answer.
OOS_CAUGHT = {"out_of_scope", "nlu_fallback"}
#: One-fact topics split out of a broader one (issue 13: a question about the trial period
#: gets that fact first, not the whole contract answer). The held-out sets label such
#: questions with the broader topic, so both sides are scored at that level: a trial-period
#: question answered with the trial-period fact is right, one sent elsewhere is still wrong.
#: ``fact_split`` then says how the broader topic's messages spread over its facts.
REFINES = {"ask_trial_period": "ask_contract_types", "ask_contract_length": "ask_contract_types",
           "ask_exam_leave": "ask_contract_types"}


def precision_recall_f1(truth: list[str], predicted: list[str],
                        labels: list[str]) -> dict[str, tuple[float, float, float, int]]:
    """Per label: precision, recall, F1 and support (scikit-learn's figures with
    ``zero_division=0``, in plain Python so the console can score without scikit-learn)."""
    result = {}
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted))
        support = sum(t == label for t in truth)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[label] = (precision, recall, f1, support)
    return result


def scores(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    """Intent figures on one held-out set (the console's retraining gate uses them too)."""
    split = fact_split(truth, predicted)
    truth, predicted = [REFINES.get(t, t) for t in truth], [REFINES.get(p, p) for p in predicted]
    labels = sorted(set(truth))
    per_topic = precision_recall_f1(truth, predicted, labels)
    f = [per_topic[label][2] for label in labels]
    oos = [pred for t, pred in zip(truth, predicted) if t == "out_of_scope"]
    in_scope = [(t, pred) for t, pred in zip(truth, predicted) if t != "out_of_scope"]
    return {
        "per_topic": per_topic,
        "macro_f1": sum(f) / len(f),
        "accuracy": sum(t == pred for t, pred in zip(truth, predicted)) / len(truth),
        "oos_catch": sum(pred in OOS_CAUGHT for pred in oos) / len(oos) if oos else float("nan"),
        "fallback_rate": sum(pred == "nlu_fallback" for _, pred in in_scope) / len(in_scope),
        "confusions": Counter((t, pred) for t, pred in zip(truth, predicted) if t != pred).most_common(12),
        "fact_split": split,
    }


def fact_split(truth: list[str], predicted: list[str]) -> dict[str, Counter]:
    """For each broader topic of REFINES: its messages counted by predicted topic or fact."""
    return {topic: Counter(p for t, p in zip(truth, predicted) if t == topic)
            for topic in sorted(set(REFINES.values())) if topic in truth}


def extracted_pairs(result: dict) -> Counter:
    """(entity, value) pairs of a /model/parse result, compared case-insensitively."""
    return Counter((e["entity"], str(e.get("value", "")).strip().lower()) for e in result.get("entities", []))


def expected_pairs(annotated: tuple[tuple[str, str], ...]) -> Counter:
    return Counter((name, value.lower()) for name, value in annotated)


def entity_scores(gold: list[tuple[tuple[str, str], ...]], parsed: list[dict]) -> dict[str, tuple[float, float, float, int]]:
    """Precision, recall, F1 and support per entity, on (entity, value) pairs.

    A value only counts when it is the one a slot would get (``gwada`` must come out
    as ``guadeloupe``, ``cuistot`` as ``G1602``), so a right span with the wrong or
    unmapped value is both a false positive and a false negative.
    """
    counts: dict[str, list[int]] = {}  # entity -> [true pos, false pos, false neg]
    for expected, result in zip(gold, parsed):
        found, wanted = extracted_pairs(result), expected_pairs(expected)
        for (name, _), n in (found & wanted).items():
            counts.setdefault(name, [0, 0, 0])[0] += n
        for (name, _), n in (found - wanted).items():
            counts.setdefault(name, [0, 0, 0])[1] += n
        for (name, _), n in (wanted - found).items():
            counts.setdefault(name, [0, 0, 0])[2] += n
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    result_by_name = {}
    for name, (tp, fp, fn) in sorted(counts.items()) + [("ALL (micro)", totals)]:
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result_by_name[name] = (precision, recall, f1, tp + fn)
    return result_by_name


def report_entities(name: str, result: dict[str, tuple[float, float, float, int]]) -> None:
    print(f"\n== Entities, {name} ==")
    print(f"{'entity':28s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'n':>4s}")
    for entity, (p, r, f, n) in result.items():
        print(f"{entity:28s} {p:6.2f} {r:6.2f} {f:6.2f} {n:4d}")


def baseline_predictions(train: list[tuple[str, str]], texts: list[str]) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer  # dev dependency: make eval only
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), lowercase=True, sublinear_tf=True),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), lowercase=True, sublinear_tf=True),
    )
    model = make_pipeline(features, LogisticRegression(max_iter=3000, C=10))
    model.fit([t for t, _ in train], [i for _, i in train])
    return list(model.predict(texts))


def parse_all(rasa_url: str, texts: list[str], workers: int = 1,
              token: str | None = None) -> tuple[list[dict], list[float], float]:
    latencies: list[float] = []

    def one(client: httpx.Client, text: str) -> dict:
        started = time.perf_counter()
        response = client.post(f"{rasa_url}/model/parse", json={"text": text}, params={"token": token or ""})
        latencies.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        return response.json()

    began = time.perf_counter()
    with httpx.Client(timeout=30) as client, concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda text: one(client, text), texts))
    return results, latencies, time.perf_counter() - began


def report(name: str, result: dict[str, Any]) -> None:
    print(f"\n== {name} ==")
    print(f"{'topic':28s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'n':>4s}")
    for topic, (p, r, f, n) in result["per_topic"].items():
        print(f"{topic:28s} {p:6.2f} {r:6.2f} {f:6.2f} {n:4d}")
    print(f"macro-F1 {result['macro_f1']:.3f} | accuracy {result['accuracy']:.3f} | "
          f"out-of-scope caught {result['oos_catch']:.3f} | in-scope sent to fallback {result['fallback_rate']:.3f}")
    for topic, spread in result["fact_split"].items():
        print(f"{topic} messages by predicted topic or fact: "
              + ", ".join(f"{name} {count}" for name, count in spread.most_common()))
    print("most frequent confusions (truth -> predicted):")
    for (truth, predicted), count in result["confusions"]:
        print(f"  {count:3d}  {truth} -> {predicted}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-macro-f1", type=float, default=None, help="exit 1 below this (first set)")
    parser.add_argument("--min-oos", type=float, default=None, help="exit 1 below this (first set)")
    parser.add_argument("--model", type=Path, default=None, help="evaluate this model instead of the current one")
    parser.add_argument("--misses", action="store_true", help="list the messages whose entities are not all right")
    parser.add_argument("--dump", type=Path, default=None, help="write every parse result (JSON) for analysis")
    args = parser.parse_args()

    train = [(e.text, e.intent) for e in read_examples(sorted(TRAINING_DIR.rglob("*.yml")))]
    sets = [(path, read_examples([path])) for path in HELDOUT_SETS if path.exists()]
    entity_sets = [(path, read_examples([path])) for path in ENTITY_SETS if path.exists()]
    model = args.model or ensure_model()
    summaries = []
    entity_summaries: list[tuple[str, tuple[float, float, float, int]]] = []
    with scratch_stack(model, with_actions=False) as (_stack, settings):
        for index, (path, heldout) in enumerate(sets):
            texts, truth = [e.text for e in heldout], [e.intent for e in heldout]
            overlap = {t.lower() for t, _ in train} & {t.lower() for t in texts}
            print(f"\n##### {path.relative_to(PROJECT_ROOT)}: {len(heldout)} messages, {len(set(truth))} topics; "
                  f"training examples: {len(train)}; held-out sentences found in training: {len(overlap)}")
            parsed, latencies, elapsed = parse_all(settings.rasa_url, texts, token=settings.rasa_auth_token)
            if args.dump:
                dump = args.dump.with_suffix(f".{index}.json")
                dump.write_text(json.dumps([{"truth": t, **p} for t, p in zip(truth, parsed)], ensure_ascii=False))
            rasa = scores(truth, [p["intent"]["name"] for p in parsed])
            base = scores(truth, baseline_predictions(train, texts))
            report(f"Rasa pipeline ({model.name})", rasa)
            report("Baseline: TF-IDF (char 1-5 + word 1-2) + logistic regression", base)
            if index == 0:
                _, _, elapsed_parallel = parse_all(settings.rasa_url, texts, workers=4, token=settings.rasa_auth_token)
                latencies.sort()
                print(f"\n/model/parse latency: median {statistics.median(latencies):.1f} ms, "
                      f"p95 {latencies[int(0.95 * len(latencies)) - 1]:.1f} ms; throughput "
                      f"{len(texts) / elapsed:.1f} msg/s sequential, {len(texts) / elapsed_parallel:.1f} msg/s "
                      f"with 4 clients")
            summaries.append((path.name, rasa, base))
            annotated = [(e.entities, p) for e, p in zip(heldout, parsed) if e.entities]
            if annotated:
                report_entities(f"{path.name} ({len(annotated)} annotated messages)",
                                entity_scores([a for a, _ in annotated], [p for _, p in annotated]))
        for path, entity_set in entity_sets:
            print(f"\n##### {path.relative_to(PROJECT_ROOT)}: {len(entity_set)} messages "
                  f"({sum(1 for e in entity_set if not e.entities)} without any entity)")
            parsed, _, _ = parse_all(settings.rasa_url, [e.text for e in entity_set], token=settings.rasa_auth_token)
            entities = entity_scores([e.entities for e in entity_set], parsed)
            report_entities(path.name, entities)
            misses = [(e.text, e.entities, [(x["entity"], x.get("value")) for x in p.get("entities", [])])
                      for e, p in zip(entity_set, parsed) if expected_pairs(e.entities) != extracted_pairs(p)]
            print(f"messages not fully right: {len(misses)}" + ("" if args.misses else " (--misses lists them)"))
            for text, wanted, got in misses if args.misses else []:
                print(f"  {text} | expected {list(wanted)} | extracted {got}")
            entity_summaries.append((path.name, entities["ALL (micro)"]))
    print()
    for name, rasa, base in summaries:
        print(f"SUMMARY {name}: rasa macro-F1 {rasa['macro_f1']:.3f} oos {rasa['oos_catch']:.3f} | "
              f"baseline macro-F1 {base['macro_f1']:.3f} oos {base['oos_catch']:.3f}")
    for name, (precision, recall, f1, support) in entity_summaries:
        print(f"SUMMARY {name}: entity micro-F1 {f1:.3f} (precision {precision:.3f}, recall {recall:.3f}, "
              f"{support} entities)")
    first = summaries[0][1]
    failed = (args.min_macro_f1 is not None and first["macro_f1"] < args.min_macro_f1) or (
        args.min_oos is not None and first["oos_catch"] < args.min_oos)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
