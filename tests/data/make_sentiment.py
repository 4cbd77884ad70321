#!/usr/bin/env python3
"""Writes tests/data/sentiment_train.jsonl (300 rows) and sentiment_test.jsonl (60 rows):
short product and film reviews, {"text": ..., "label": "positive" | "negative"}, made from word
lists with a fixed seed (the same files on every run). Each review joins a subject, a verb and
one or two opinion words of its label, sometimes with a neutral tail; the test set draws the
same vocabulary in new combinations. Run from anywhere: python3 tests/data/make_sentiment.py
"""

import json
import random
from pathlib import Path

SUBJECTS = [
    "the film", "this movie", "the plot", "the acting", "the soundtrack", "the kettle", "this phone",
    "the battery", "the hotel", "the room", "the food", "the service", "the book", "the ending",
    "the camera", "this game", "the staff", "the delivery", "the screen", "the coffee",
]
VERBS = ["was", "is", "felt", "seemed", "looked", "turned out"]
OPINIONS = {
    "positive": ["great", "wonderful", "superb", "lovely", "brilliant", "excellent", "delightful",
                 "fantastic", "charming", "perfect", "amazing", "pleasant"],
    "negative": ["awful", "terrible", "dull", "boring", "horrible", "poor", "broken", "ugly",
                 "dreadful", "useless", "bad", "weak"],
}
CLOSERS = {
    "positive": ["I loved it.", "Highly recommended.", "Would buy again.", "Five stars.", ""],
    "negative": ["I hated it.", "Avoid it.", "Never again.", "One star.", ""],
}
TAILS = ["", "", " overall", " to me", " this time", " from the start"]


def review(rng: random.Random, label: str) -> str:
    words = rng.sample(OPINIONS[label], 2)
    opinion = words[0] if rng.random() < 0.5 else f"{words[0]} and {words[1]}"
    text = f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {opinion}{rng.choice(TAILS)}."
    closer = rng.choice(CLOSERS[label])
    return f"{text} {closer}".strip()


def rows(rng: random.Random, n: int, seen: set) -> list:
    out = []
    while len(out) < n:
        label = ["positive", "negative"][len(out) % 2]
        text = review(rng, label)
        if text in seen:
            continue
        seen.add(text)
        out.append({"text": text, "label": label})
    rng.shuffle(out)
    return out


def main() -> None:
    rng = random.Random(13)
    seen: set = set()
    here = Path(__file__).resolve().parent
    for name, n in [("sentiment_train.jsonl", 300), ("sentiment_test.jsonl", 60)]:
        with open(here / name, "w", encoding="utf-8") as f:
            for row in rows(rng, n, seen):
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
