"""Every view of the config contract from one source, the field descriptions in the structs.

``quotepipe config default`` (the YAML with each description as a comment),
docs/CONFIG.md (``quotepipe config reference``, kept current by a test) and the
JSON Schema for editors. Kept out of ``quotepipe.config``, which every process
imports: only the command line needs it.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import msgspec
import yaml

from quotepipe.config import Config, _describe


def _fields(t: msgspec.inspect.StructType) -> list[tuple[str, str, msgspec.inspect.Type, Any]]:
    """(name, description, inner type, default) of each field of a config struct."""
    out = []
    for f in t.fields:
        meta = f.type
        assert isinstance(meta, msgspec.inspect.Metadata)
        desc = (meta.extra_json_schema or {}).get("description", "")
        default = f.default_factory() if f.default_factory is not msgspec.NODEFAULT else f.default
        out.append((f.name, desc, meta.type, default))
    return out


def _struct(t: msgspec.inspect.Type) -> msgspec.inspect.StructType | None:
    while isinstance(t, msgspec.inspect.Metadata):
        t = t.type
    return t if isinstance(t, msgspec.inspect.StructType) else None


def commented_yaml(cfg: Config) -> str:
    """``cfg`` as YAML, every field under a comment with its description; it parses back to
    ``cfg``."""
    values = msgspec.to_builtins(cfg)
    lines: list[str] = []

    def comment(text: str, indent: str) -> None:
        lines.extend(textwrap.wrap(text, 96, initial_indent=indent + "# ", subsequent_indent=indent + "# "))

    def emit(t: msgspec.inspect.StructType, vals: dict[str, Any], indent: str) -> None:
        for name, desc, inner, _ in _fields(t):
            comment(desc, indent)
            inner_struct = _struct(inner)
            if inner_struct is not None:
                lines.append(f"{indent}{name}:")
                emit(inner_struct, vals[name], indent + "  ")
                continue
            item = _struct(inner.item_type) if isinstance(inner, msgspec.inspect.ListType) else None
            if item is not None:  # a list of structs (instruments): their fields in the comment
                for f_name, f_desc, _, _ in _fields(item):
                    comment(f"  {f_name}: {f_desc}", indent)
            scalar = not isinstance(vals[name], list | dict)
            text = yaml.safe_dump({name: vals[name]}, sort_keys=False, width=100,
                                  default_flow_style=False if scalar else None)
            lines.extend(indent + ln for ln in text.rstrip("\n").splitlines())

    emit(msgspec.inspect.type_info(Config), values, "")  # type: ignore[arg-type]
    return "\n".join(lines) + "\n"


def config_reference() -> str:
    """docs/CONFIG.md: every section and field, its type and range, default and description."""

    out = ["# quotepipe configuration reference", "",
           "Generated from the config structs by `quotepipe config reference` (a test keeps it",
           "current). A file names only what differs from the default; `quotepipe config default`",
           "prints the whole default with these descriptions as comments.", ""]
    top = msgspec.inspect.type_info(Config)
    assert isinstance(top, msgspec.inspect.StructType)

    def table(t: msgspec.inspect.StructType, prefix: str) -> None:
        out.extend(["| field | type | default | description |", "|---|---|---|---|"])
        nested = []
        for name, desc, inner, default in _fields(t):
            s = _struct(inner)
            if s is not None:
                nested.append((f"{prefix}{name}", desc, s))
                continue
            shown = ("required" if default is msgspec.NODEFAULT
                     else f"`{json.dumps(msgspec.to_builtins(default))}`")
            if len(shown) > 60:
                shown = "see `quotepipe config default`"
            out.append(f"| `{prefix}{name}` | {_describe(inner)} | {shown} | {desc} |".replace("||", "| |"))
        out.append("")
        for path, desc, s in nested:
            out.extend([f"### `{path}`", "", desc, ""])
            table(s, f"{path}.")

    for name, desc, inner, _ in _fields(top):
        out.extend([f"## `{name}`", "", desc, ""])
        s = _struct(inner)
        if s is not None:
            table(s, f"{name}.")
        elif isinstance(inner, msgspec.inspect.ListType) and _struct(inner.item_type) is not None:
            table(_struct(inner.item_type), f"{name}[].")  # type: ignore[arg-type]
    return "\n".join(out).rstrip("\n") + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, for editors (YAML language servers take it)."""
    return msgspec.json.schema(Config)
