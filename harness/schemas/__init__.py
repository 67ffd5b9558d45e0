"""JSON Schemas of the documents the harness writes; ``report.schema.json`` is report.json's.

:func:`validate` checks a document with ``jsonschema`` when it is installed (the ``dev``
extra), else with a small built-in checker of the keywords these schemas use (``type``,
``const``, ``enum``, ``required``, ``properties``, ``additionalProperties``, ``items``,
``oneOf``, local ``$ref``), so the tests guard the schema on any machine.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def report_schema() -> dict[str, Any]:
    """The parsed JSON Schema of ``report.json`` (``harness.compare/1``)."""
    return json.loads(resources.files(__name__).joinpath("report.schema.json").read_text())


def validate(doc: Any, schema: dict[str, Any] | None = None) -> None:
    """Raise ``ValueError`` naming the first violation when ``doc`` does not fit ``schema``."""
    schema = schema or report_schema()
    try:
        import jsonschema
    except ImportError:
        _check(doc, schema, schema, "$")
        return
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        where = "$" + "".join(f"[{p!r}]" for p in e.absolute_path)
        raise ValueError(f"{where}: {e.message}") from None


_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is(value: Any, name: str) -> bool:
    if name in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return name == "number" or isinstance(value, int)
    return isinstance(value, _TYPES[name])


def _check(doc: Any, s: dict[str, Any], root: dict[str, Any], at: str) -> None:
    if "$ref" in s:
        node: Any = root
        for part in s["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        _check(doc, node, root, at)
        return
    if "oneOf" in s:
        fits = 0
        for sub in s["oneOf"]:
            try:
                _check(doc, sub, root, at)
            except ValueError:
                continue
            fits += 1
        if fits != 1:
            raise ValueError(f"{at}: fits {fits} of the oneOf alternatives, not exactly 1")
    if "const" in s and doc != s["const"]:
        raise ValueError(f"{at}: {doc!r} is not {s['const']!r}")
    if "enum" in s and doc not in s["enum"]:
        raise ValueError(f"{at}: {doc!r} is not one of {s['enum']!r}")
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_is(doc, t) for t in types):
            raise ValueError(f"{at}: {doc!r} is not of type {s['type']!r}")
    if isinstance(doc, dict):
        for key in s.get("required", []):
            if key not in doc:
                raise ValueError(f"{at}: {key!r} is a required property")
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        for key, value in doc.items():
            if key in props:
                _check(value, props[key], root, f"{at}[{key!r}]")
            elif extra is False:
                raise ValueError(f"{at}: additional property {key!r} is not allowed")
            elif isinstance(extra, dict):
                _check(value, extra, root, f"{at}[{key!r}]")
    if isinstance(doc, list) and "items" in s:
        for i, value in enumerate(doc):
            _check(value, s["items"], root, f"{at}[{i}]")
