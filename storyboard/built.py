"""Pydantic models built from values the program made itself: neither validated nor copied.

The parser makes thousands of nodes and the compiler a thousand plan clips per big film, every
value already of its field's type. Validation (which deep-copies a request body and tries each
member of a union of node types) was a tenth of a 1,000-clip compile and a twelfth of its load;
`model_construct` avoids it but searches each field's aliases per call. `built` fills a per-class
template instead and leaves the instance exactly as validation would: fields in declaration
order, `model_fields_set` naming the fields given.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)

_set_slot = object.__setattr__  # past a frozen model's own __setattr__, as model_construct does


def built(cls: type[M], values: dict[str, Any]) -> M:
    """An instance of `cls` holding `values`; a field not given takes its default (a fresh value
    for one with a default factory). A required field must be given: it is not checked here."""
    template, factories = _defaults(cls)
    data = {**template, **values}  # merged into the template, a given key keeps its field's place
    for name, factory in factories.items():
        if name not in values:
            data[name] = factory()
    model = cls.__new__(cls)
    _set_slot(model, "__dict__", data)
    _set_slot(model, "__pydantic_fields_set__", set(values))
    _set_slot(model, "__pydantic_extra__", None)
    _set_slot(model, "__pydantic_private__", None)
    return model


@cache  # per class: its fields never change
def _defaults(cls: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Callable[[], Any]]]:
    """Every field of `cls` in order at its default (PydanticUndefined where there is none yet:
    a required field, or one whose default comes fresh from a factory), and those factories."""
    fields = cls.model_fields
    template = {name: PydanticUndefined if f.default_factory else f.get_default() for name, f in fields.items()}
    factories = {name: f.default_factory for name, f in fields.items() if f.default_factory is not None}
    return template, factories
