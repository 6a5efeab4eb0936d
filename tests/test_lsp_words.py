"""The words the language server offers come from where the language defines them: keywords and
clip keys from story.lark, settings from the checker's tables; what each does from the tables of
docs/language.md, which must describe every one."""

from __future__ import annotations

import re

from storyboard.language import model
from storyboard.language.parser import grammar_text
from storyboard.lsp import vocabulary
from storyboard.lsp.actions import suggestion
from storyboard.lsp.docs import setting_docs


def test_keywords_and_clip_keys_are_read_from_the_grammar():
    lark = grammar_text()
    for word in vocabulary.keywords():
        assert re.search(rf"\b{word}\b", lark)
    assert set(model.TRANSITIONS) <= set(vocabulary.keywords())
    assert set(model.CAST_KINDS) | {"shot", "scene", "extend"} <= set(vocabulary.block_keywords())
    assert tuple(vocabulary.clip_keys()) == tuple(model.CLIP_SETTINGS)


def test_the_language_reference_describes_every_setting_field_and_transition():
    docs = setting_docs()
    assert set(vocabulary.film_keys()) <= set(docs["film"])
    assert set(vocabulary.clip_keys()) <= set(docs["clip"])
    assert set(vocabulary.cast_fields()) <= set(docs["cast"])
    assert set(model.TRANSITIONS) <= set(docs["transition"])
    assert dict(docs["film"]["audio"].columns)["default"] == "`on`"


def test_quick_fix_text_from_hints():
    assert suggestion("did you mean @Keeper?", "Keper") == "Keeper"
    assert suggestion("did you mean @Keeper?", "@Keper") == "@Keeper"
    assert suggestion("did you mean `title`?", "titel") == "title"
    assert suggestion("did you mean `camera:`?", "camra:") == "camera:"
    assert suggestion("did you mean `camera:`?", "camra") == "camera"
    assert suggestion("did you mean cast/keeper.png?", "cast/keper.png") == "cast/keeper.png"
    assert suggestion("define it as a character, prop or place", "Keper") is None
