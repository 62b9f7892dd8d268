"""An interpolated Kneser-Ney n-gram LM written as an ARPA file.

ESPnet decodes with an n-gram through kenlm (``asr_inference --ngram_file``), and kenlm
reads ARPA. kenlm's ``lmplz`` builder is a separate C++ build, so this module writes the
ARPA itself: interpolated Kneser-Ney with one discount per order (``D = n1 / (n1 + 2 n2)``,
clipped to [0.1, 0.9]), continuation counts for the lower orders, and the lowest order
interpolated with a uniform distribution over the vocabulary plus ``<unk>``. For
interpolated KN the ARPA back-off weight of a context is exactly its interpolation weight,
so kenlm's back-off arithmetic reproduces the interpolated probabilities.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from lipsound2.fileio.atomic import atomic_open

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
Gram = tuple[str, ...]


class KneserNeyLM:
    """Train on token sequences; query ``prob(word, context)``; write ARPA."""

    def __init__(self, sentences: Iterable[Sequence[str]], order: int = 3) -> None:
        if order < 1:
            raise ValueError("n-gram order must be at least 1")
        self.order = order
        counts: list[Counter[Gram]] = [Counter() for _ in range(order + 1)]
        for sent in sentences:
            toks = [BOS, *sent, EOS]
            for n in range(1, order + 1):
                # <s> is only ever history, never predicted: no unigram count for it
                for i in range(1 if n == 1 else 0, len(toks) - n + 1):
                    counts[n][tuple(toks[i : i + n])] += 1
        if not counts[1]:
            raise ValueError("no training text for the n-gram LM")
        # Kneser-Ney: lower orders count distinct left extensions, except n-grams that begin
        # the sentence (nothing can extend them to the left).
        self.counts: list[dict[Gram, float]] = [{} for _ in range(order + 1)]
        self.counts[order] = dict(counts[order])
        for n in range(order - 1, 0, -1):
            cont: Counter[Gram] = Counter(g[1:] for g in counts[n + 1])
            self.counts[n] = {g: (c if g[0] == BOS else cont.get(g, 0)) for g, c in counts[n].items()}
            self.counts[n] = {g: c for g, c in self.counts[n].items() if c > 0}
        self.vocab = sorted({g[0] for g in counts[1]} | {UNK})
        self.discount = [0.0] + [self._discount(self.counts[n]) for n in range(1, order + 1)]
        self._context_total: list[dict[Gram, float]] = [defaultdict(float) for _ in range(order + 1)]
        self._context_types: list[dict[Gram, int]] = [defaultdict(int) for _ in range(order + 1)]
        for n in range(1, order + 1):
            for g, c in self.counts[n].items():
                self._context_total[n][g[:-1]] += c
                self._context_types[n][g[:-1]] += 1

    @staticmethod
    def _discount(counts: dict[Gram, float]) -> float:
        n1 = sum(1 for c in counts.values() if c == 1)
        n2 = sum(1 for c in counts.values() if c == 2)
        d = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
        return min(max(d, 0.1), 0.9)

    def _gamma(self, context: Gram) -> float:
        n = len(context) + 1
        total = self._context_total[n].get(context, 0.0)
        if total == 0:
            return 1.0
        return self.discount[n] * self._context_types[n][context] / total

    def prob(self, word: str, context: Sequence[str] = ()) -> float:
        """Interpolated probability of ``word`` after ``context`` (the last order-1 tokens count)."""
        context = tuple(context)[-(self.order - 1) :] if self.order > 1 else ()
        return self._prob(word if word in self.vocab else UNK, context)

    def _prob(self, word: str, context: Gram) -> float:
        n = len(context) + 1
        if n == 1:
            if word == BOS:
                return 0.0
            uniform = 1.0 / len(self.vocab)  # every predictable token (not <s>)
            total = self._context_total[1][()]
            count = self.counts[1].get((word,), 0.0)
            return max(count - self.discount[1], 0.0) / total + self._gamma(()) * uniform
        total = self._context_total[n].get(context, 0.0)
        lower = self._prob(word, context[1:])
        if total == 0:
            return lower
        count = self.counts[n].get(context + (word,), 0.0)
        return max(count - self.discount[n], 0.0) / total + self._gamma(context) * lower

    def write_arpa(self, path: str | os.PathLike) -> None:
        """Write the model in ARPA format (log10 probabilities and back-off weights)."""
        grams: list[list[Gram]] = [[] for _ in range(self.order + 1)]
        grams[1] = sorted({(w,) for w in self.vocab} | {(BOS,)})
        for n in range(2, self.order + 1):
            grams[n] = sorted(self.counts[n])
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.write("\n\\data\\\n")
            for n in range(1, self.order + 1):
                f.write(f"ngram {n}={len(grams[n])}\n")
            for n in range(1, self.order + 1):
                f.write(f"\n\\{n}-grams:\n")
                for g in grams[n]:
                    p = self._prob(g[-1], g[:-1])
                    logp = -99.0 if g == (BOS,) or p <= 0 else math.log10(p)
                    line = f"{logp:.6f}\t{' '.join(g)}"
                    if n < self.order and g[-1] != EOS and g in self._context_total[n + 1]:
                        line += f"\t{math.log10(self._gamma(g)):.6f}"
                    f.write(line + "\n")
            f.write("\n\\end\\\n")
