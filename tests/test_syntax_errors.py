"""Syntax errors by example (issue 11, item 5): every example in `parser.SYNTAX_RULES` is
explained by its own rule and gets the code the table says."""

from __future__ import annotations

import pytest

from storyboard.language import parser

CASES = [(rule.__name__, example, code) for rule, examples in parser.SYNTAX_RULES for example, code in examples.items()]


@pytest.mark.parametrize("rule_name, example, code", CASES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(CASES)])
def test_each_example_is_explained_by_its_rule(monkeypatch, rule_name, example, code):
    explained: list[tuple[str, str | None]] = []

    def recording(rule):
        def explain(refused):
            found = rule(refused)
            if found is not None:
                explained.append((rule.__name__, found[0].code if found[0] else None))
            return found
        return explain

    monkeypatch.setattr(parser, "SYNTAX_RULES", tuple((recording(r), e) for r, e in parser.SYNTAX_RULES))
    _, diags = parser.parse(example, "example.story")
    assert (rule_name, code) in explained, (explained, diags)
    if code is not None:  # None: the rule drops the refusal quietly (an earlier error explains it)
        assert code in {d.code for d in diags}


def test_the_last_rule_explains_anything():
    last, _ = parser.SYNTAX_RULES[-1]
    _, diags = parser.parse("shot a 5:\n  A cat.\n", "x.story")
    assert [d.code for d in diags] == ["SB007"]
    assert last.__name__ == "_unexpected_part"
