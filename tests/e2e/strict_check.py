"""Writ's strict model check: does a JSON object from the server fit the official SDK's model?

The Graph SDK is lenient on purpose: a property its model does not declare lands in
`additional_data`, and a value it cannot read (an enum string it does not know, a string where a
boolean belongs) silently becomes `None`. A client would never notice. This module makes both loud:

    from strict_check import assert_conforms
    user = assert_conforms(User, raw_json)        # returns the parsed model

For every JSON object, recursively (nested complex values and collections included):
  (a) every property must be declared by the model class the SDK picked (its
      `get_field_deserializers()`, which includes inherited properties); names starting with
      `@odata.` are annotations and are allowed;
  (b) every declared property with a non-null value must parse to a non-None value with the very
      getter the model uses for it. For enum-typed properties that is `get_enum_value(EnumClass)`:
      an enum string the SDK does not know is reported.
The model class is chosen the way the SDK chooses it: `@odata.type` selects the subclass of the
requested class (so a `DirectoryObject` member carrying `#microsoft.graph.user` is checked as a
`User`), and the result must be an instance of the requested class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node import JsonParseNode

ANNOTATION_PREFIX = "@odata."


@dataclass(frozen=True)
class _Accessor:
    """How a model reads one property: the ParseNode getter name and its argument, if any."""

    getter: str
    arg: Any = None

    @property
    def is_enum(self) -> bool:
        return self.getter in ("get_enum_value", "get_collection_of_enum_values")


class _RecordingNode:
    """A stand-in ParseNode that records which getter a field deserializer calls.

    Calling a model's deserializer with it tells us the property's wire type (string, enum class,
    nested model factory, ...) straight from the generated code, without guessing from names.
    """

    def __init__(self) -> None:
        self.accessor: Optional[_Accessor] = None

    def __getattr__(self, name: str) -> Callable[..., None]:
        if not name.startswith("get_"):
            raise AttributeError(name)

        def record(*args: Any, **_kw: Any) -> None:
            self.accessor = _Accessor(name, args[0] if args else None)
            return None

        return record


def _accessor(deserializer: Callable[[Any], None]) -> Optional[_Accessor]:
    node = _RecordingNode()
    deserializer(node)
    return node.accessor


def _accessors(model_cls: type) -> dict[str, Optional[_Accessor]]:
    # A fresh instance: the deserializers assign to it, so the parsed object stays untouched.
    probe = model_cls()
    return {name: _accessor(fn) for name, fn in probe.get_field_deserializers().items()}


def _parse(model_cls: type, raw: Any) -> Any:
    return JsonParseNode(raw).get_object_value(model_cls)


def _describe(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_object(model_cls: type, raw: dict, path: str, problems: list[str]) -> Any:
    obj = _parse(model_cls, raw)
    actual = type(obj)
    if not isinstance(obj, model_cls):  # pragma: no cover - the SDK's factories guarantee it
        problems.append(f"{path}: parsed as {actual.__name__}, not a {model_cls.__name__}")
    accessors = _accessors(actual)
    for name, value in raw.items():
        where = f"{path}.{name}"
        if name.startswith(ANNOTATION_PREFIX):
            continue
        if name not in accessors:
            problems.append(f"{where}: not a property of {actual.__name__}")
            continue
        if value is None:
            continue
        accessor = accessors[name]
        if accessor is None:  # pragma: no cover - every generated deserializer calls a getter
            continue
        _check_value(accessor, value, where, actual.__name__, problems)
    return obj


def _check_value(accessor: _Accessor, value: Any, where: str, owner: str, problems: list[str]) -> None:
    getter, arg = accessor.getter, accessor.arg
    if getter == "get_object_value":
        if not isinstance(value, dict):
            problems.append(f"{where}: {_describe(value)} is not an object ({arg.__name__} expected)")
            return
        _check_object(arg, value, where, problems)
        return
    if getter == "get_collection_of_object_values":
        if not isinstance(value, list):
            problems.append(f"{where}: {_describe(value)} is not an array of {arg.__name__}")
            return
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                problems.append(f"{where}[{i}]: {_describe(item)} is not an object ({arg.__name__} expected)")
            else:
                _check_object(arg, item, f"{where}[{i}]", problems)
        return
    if getter == "get_collection_of_enum_values":
        # Flags enums travel as one comma-separated string ("a,b"), plain ones as an array.
        if isinstance(value, str):
            items: Optional[list] = [part.strip() for part in value.split(",")]
        else:
            items = value if isinstance(value, list) else None
        if items is None:
            problems.append(f"{where}: {_describe(value)} is not an array of {arg.__name__}")
            return
        for i, item in enumerate(items):
            if item is not None and JsonParseNode(item).get_enum_value(arg) is None:
                problems.append(
                    f"{where}[{i}]: {_describe(item)} is not a member of enum {arg.__name__} "
                    f"(the SDK would read None)"
                )
        return
    if getter == "get_collection_of_primitive_values":
        if not isinstance(value, list):
            problems.append(f"{where}: {_describe(value)} is not an array of {getattr(arg, '__name__', arg)}")
            return
        parsed = JsonParseNode(value).get_collection_of_primitive_values(arg) or []
        for i, (item, got) in enumerate(zip(value, parsed)):
            if item is not None and got is None:
                problems.append(
                    f"{where}[{i}]: {_describe(item)} is not a {getattr(arg, '__name__', arg)} "
                    "(the SDK would read None)"
                )
        return
    # A scalar: re-read it with the model's own getter.
    node = JsonParseNode(value)
    try:
        parsed = getattr(node, getter)(arg) if arg is not None else getattr(node, getter)()
    except (ValueError, TypeError) as err:
        problems.append(f"{where}: {_describe(value)} cannot be read by {owner} ({getter}: {err})")
        return
    if parsed is None:
        if accessor.is_enum:
            problems.append(
                f"{where}: {_describe(value)} is not a member of enum {arg.__name__} "
                f"(the SDK would read None)"
            )
        else:
            kind = getter.removeprefix("get_").removesuffix("_value")
            problems.append(f"{where}: {_describe(value)} is not a valid {kind} (the SDK would read None)")


def check(model_cls: type, raw: Union[dict, str, bytes]) -> tuple[Any, list[str]]:
    """Parses `raw` as `model_cls` like the SDK does; returns (parsed model, list of problems)."""
    if not (isinstance(model_cls, type) and issubclass(model_cls, Parsable)):
        raise TypeError(f"{model_cls!r} is not an SDK model class")
    data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    if not isinstance(data, dict):
        return None, [f"{model_cls.__name__}: expected a JSON object, got {_describe(data)}"]
    problems: list[str] = []
    obj = _check_object(model_cls, data, model_cls.__name__, problems)
    return obj, problems


def assert_conforms(model_cls: type, raw: Union[dict, str, bytes], context: str = "") -> Any:
    """`check`, failing with every problem listed; returns the parsed model."""
    obj, problems = check(model_cls, raw)
    if problems:
        where = f" ({context})" if context else ""
        raise AssertionError(
            f"{len(problems)} strict-check problem(s) for {model_cls.__name__}{where}:\n  "
            + "\n  ".join(problems)
            + f"\nJSON: {json.dumps(raw if isinstance(raw, dict) else json.loads(raw))[:3000]}"
        )
    return obj


def assert_collection_conforms(item_cls: type, page: dict, context: str = "") -> list[Any]:
    """Checks a collection page: its own keys (`value` plus `@odata.*`) and each item."""
    assert isinstance(page, dict) and isinstance(page.get("value"), list), f"not a collection page: {page!r}"
    extra = [k for k in page if k != "value" and not k.startswith(ANNOTATION_PREFIX)]
    assert not extra, f"collection page{' (' + context + ')' if context else ''} has unexpected keys {extra}"
    return [
        assert_conforms(item_cls, item, f"{context}[{i}]" if context else f"value[{i}]")
        for i, item in enumerate(page["value"])
    ]

