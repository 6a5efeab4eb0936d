"""`did you mean`: the name closest to a misspelt one, over a few names or many thousands."""

from __future__ import annotations

import difflib  # called through the module: tests count its comparisons by patching it

SCAN_LIMIT = 200  # past this many names, comparing a word with each one per problem is quadratic


def close(word: str, options) -> str | None:
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


class NearNames:
    """`did you mean` over one fixed list of names, for many words. A short list is scanned like
    `close`; a long one (thousands of clips or files) is indexed once by every name with one
    letter deleted, so a word meets only the names one letter away (a letter wrong, missing,
    extra, or two swapped): a difflib scan per problem took minutes for thousands of problems."""

    def __init__(self, names):
        self.names = list(dict.fromkeys(names))
        self.index: dict[str, list[str]] | None = None  # built at the first question: most films ask none

    def closest(self, word: str) -> str | None:
        if len(self.names) <= SCAN_LIMIT:
            return close(word, self.names)
        if self.index is None:
            self.index = {}
            for name in self.names:
                for variant in _deletions(name):
                    self.index.setdefault(variant, []).append(name)
        nearby = {name for variant in _deletions(word) for name in self.index.get(variant, ())}
        return close(word, sorted(nearby))


def _deletions(word: str) -> set[str]:
    """The word itself and the word with each one letter left out."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}
