"""Typed config: a tree of frozen dataclasses built from YAML and dotted command-line overrides.

A schema is any dataclass whose fields are typed with ``int``, ``float``, ``bool``, ``str``,
``pathlib.Path``, ``Literal[...]``, ``X | None``, ``tuple[X, ...]`` / ``list[X]``,
``dict[str, X]``, ``Any`` or another dataclass. Defaults come from the dataclasses; a YAML file
overrides them, and overrides such as ``learner.lr=1e-3`` or ``selfplay.temperature_moves=null``
override the file::

    config = load_config(TrainConfig, "configs/connect4.yaml", ["learner.lr=1e-3"])

Every mistake raises :class:`ConfigError` naming where it came from (``file:line`` of the key,
or the command-line override), the full dotted key, what was wrong and what would be right, e.g.
``configs/c4.yaml:12: unknown key 'learner.lrr'; did you mean 'learner.lr'?``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml

from experiment import UserError

T = TypeVar("T")

_NULL_WORDS = frozenset({"null", "~", "none"})
_TRUE_WORDS = frozenset({"true", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "no", "off"})
_KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


class ConfigError(UserError, ValueError):
    """A config that cannot be built; the message says where, which key, and what would be right."""


@dataclass(frozen=True)
class Range:
    """A number's valid range, checked when a config loads: attach it to a field's type with
    ``typing.Annotated`` (the aliases below), e.g. ``simulations: PositiveInt = 50``. ``low`` and
    ``high`` are inclusive unless ``above`` (``low`` itself excluded); None is unbounded."""

    low: float | None = None
    high: float | None = None
    above: bool = False

    def admits(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high

    def describe(self) -> str:
        if self.low is not None and self.high is not None and not self.above:
            return f"in {_show(self.low)}..{_show(self.high)}"
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.above else 'at least'} {_show(self.low)}")
        if self.high is not None:
            parts.append(f"at most {_show(self.high)}")
        return " and ".join(parts)


PositiveInt = Annotated[int, Range(1)]
NonNegativeInt = Annotated[int, Range(0)]
PositiveFloat = Annotated[float, Range(0, above=True)]
NonNegativeFloat = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1)]  # a share or a probability, ends included


def load_config(
    schema: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()
) -> T:
    """Build ``schema`` from its defaults, then the YAML file at ``path``, then ``overrides``.

    Each override is ``dotted.key=value``; the value is read as YAML (``null``, ``true``,
    ``[64, 64]``) except for string-typed keys, which take the text verbatim.
    """
    _require_dataclass_type(schema)
    sources = _Sources(schema, fallback=str(path) if path is not None else "config")
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_yaml(Path(path), str(path), sources)
    for text in overrides:
        _apply_override(schema, data, text, sources)
    return _build(schema, data, "", sources)


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain YAML-ready data for a dataclass config: tuples become lists, paths strings."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config_to_dict expects a dataclass instance, got {type(config).__name__}")
    return _plain(config)


def config_to_yaml(config: Any) -> str:
    """``config`` as YAML text that :func:`load_config` reads back to an equal object."""
    return yaml.dump(config_to_dict(config), Dumper=_Dumper, sort_keys=False)


def save_config(config: Any, path: str | Path) -> None:
    """Write ``config`` as YAML (:func:`config_to_yaml`)."""
    Path(path).write_text(config_to_yaml(config))


# --- where values came from --------------------------------------------------------------------


class _Sources:
    """Where the value of each dotted key came from (``file:line`` or an override), for errors."""

    def __init__(self, schema: type, fallback: str):
        self.schema = schema  # the root, for suggestions across the whole tree
        self.fallback = fallback
        self._by_key: dict[str, str] = {}

    def set(self, key: str, where: str) -> None:
        # An override replaces the whole subtree below its key, so older sources there are stale.
        stale = [k for k in self._by_key if k.startswith((key + ".", key + "["))]
        for k in stale:
            del self._by_key[k]
        self._by_key[key] = where

    def describe(self, key: str) -> str:
        while key:
            if key in self._by_key:
                return self._by_key[key]
            key = re.sub(r"(\[\d+\]|\.?[^.\[]+)$", "", key)
        return self.fallback


def _read_yaml(path: Path, shown: str, sources: _Sources) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file '{shown}' not found") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file '{shown}': {error.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{shown}{line}: invalid YAML: {problem}") from None
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise ConfigError(
            f"{shown}:{node.start_mark.line + 1}: the top level must be a mapping of keys to "
            f"values (e.g. 'learner:'), got {_yaml_kind(node)}"
        )
    _record_key_lines(node, "", shown, sources)
    return data


def _record_key_lines(node: yaml.Node, prefix: str, shown: str, sources: _Sources) -> None:
    if isinstance(node, yaml.MappingNode):
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_lines:
                raise ConfigError(
                    f"{shown}:{line}: duplicate key '{key}' (first set at line {first_lines[key]})"
                )
            first_lines[key] = line
            sources.set(key, f"{shown}:{line}")
            _record_key_lines(value_node, key, shown, sources)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_key_lines(item, f"{prefix}[{index}]", shown, sources)


def _yaml_kind(node: yaml.Node) -> str:
    return "a list" if isinstance(node, yaml.SequenceNode) else f"the value {node.value!r}"


# --- overrides ---------------------------------------------------------------------------------


def _apply_override(schema: type, data: dict[str, Any], text: str, sources: _Sources) -> None:
    key, separator, raw = text.partition("=")
    key = key.strip()
    where = f"command line override `{text}`"
    if not separator or not _KEY_PATTERN.match(key):
        raise ConfigError(
            f"malformed override {text!r}: expected dotted.key=value, e.g. learner.lr=1e-3 "
            "or selfplay.temperature_moves=null"
        )
    annotation = _annotation_at(schema, key, where)
    _set_nested(data, key, _parse_override_value(raw.strip(), annotation, key, where))
    sources.set(key, where)


def _parse_override_value(raw: str, annotation: Any, key: str, where: str) -> Any:
    """Text for string-typed keys (so ``name=007`` stays "007"), YAML for everything else."""
    arms = _union_arms(annotation)
    nullable = type(None) in arms
    if nullable and raw.lower() in _NULL_WORDS:
        return None
    if all(_is_text_type(arm) for arm in arms if arm is not type(None)):
        return raw
    try:
        return yaml.safe_load(raw) if raw else raw
    except yaml.YAMLError:
        raise ConfigError(f"{where}: cannot read the value of '{key}' as YAML: {raw!r}") from None


def _is_text_type(annotation: Any) -> bool:
    if annotation in (str, Path):
        return True
    if typing.get_origin(annotation) is Literal:
        return all(isinstance(choice, str) for choice in typing.get_args(annotation))
    return False


def _set_nested(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        child = data.get(part)
        if not isinstance(child, dict):  # missing, or an empty YAML section (None)
            child = data[part] = {}
        data = child
    data[last] = value


def _annotation_at(schema: type, key: str, where: str) -> Any:
    """The declared type of a dotted key, or ConfigError naming the nearest valid key."""
    annotation: Any = schema
    walked: list[str] = []
    for part in key.split("."):
        annotation = _strip_optional(annotation)
        origin = typing.get_origin(annotation)
        if _is_schema(annotation):
            field_types = _field_types(annotation)
            if part not in field_types:
                full_key = ".".join([*walked, part])
                raise ConfigError(_unknown_key_message(schema, full_key, field_types, where))
            annotation = field_types[part]
        elif origin in (dict, Mapping):
            args = typing.get_args(annotation)
            annotation = args[1] if args else Any
        elif annotation is Any:
            return Any
        else:
            parent = ".".join(walked)
            raise ConfigError(
                f"{where}: '{parent}' is {_describe_type(annotation)}, so it has no key '{part}'"
            )
        walked.append(part)
    return annotation


def _unknown_key_message(schema: type, key: str, siblings: Mapping[str, Any], where: str) -> str:
    *parents, name = key.split(".")
    prefix = ".".join(parents) + "." if parents else ""
    close = difflib.get_close_matches(name, list(siblings), n=1)
    if close:
        suggestion = prefix + close[0]
    else:  # a key in the wrong section, e.g. 'lr' for 'learner.lr'
        everywhere = _schema_keys(schema)
        by_last: dict[str, str] = {}
        for full in everywhere:
            by_last.setdefault(full.rsplit(".", 1)[-1], full)
        close = difflib.get_close_matches(name, list(by_last), n=1)
        suggestion = by_last[close[0]] if close else ""
    if suggestion:
        return f"{where}: unknown key '{key}'; did you mean '{suggestion}'?"
    section = f"under '{prefix[:-1]}'" if prefix else "at the top level"
    return f"{where}: unknown key '{key}'; valid keys {section}: {', '.join(sorted(siblings))}"


def _schema_keys(schema: Any, prefix: str = "", depth: int = 0) -> list[str]:
    keys: list[str] = []
    schema = _strip_optional(schema)
    if not _is_schema(schema) or depth > 8:
        return keys
    for name, annotation in _field_types(schema).items():
        keys.append(prefix + name)
        keys.extend(_schema_keys(annotation, prefix + name + ".", depth + 1))
    return keys


# --- building and type checking ----------------------------------------------------------------


def _build(annotation: Any, value: Any, key: str, sources: _Sources) -> Any:
    """``value`` checked against (and coerced to) ``annotation``; ``key`` is its dotted path."""
    if annotation is Any or annotation is object:
        return value
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *constraints = typing.get_args(annotation)
        built = _build(inner, value, key, sources)
        for constraint in constraints:
            if isinstance(constraint, Range) and built is not None and not constraint.admits(built):
                raise ConfigError(
                    f"{_where(key, sources)}'{key}' must be {constraint.describe()}; "
                    f"got {_show(built)}"
                )
        return built
    if origin in (typing.Union, types.UnionType):
        return _build_union(annotation, value, key, sources)
    if origin is Literal:
        return _build_literal(annotation, value, key, sources)
    if _is_schema(annotation):
        return _build_dataclass(annotation, value, key, sources)
    if origin in (tuple, list, Sequence):
        return _build_sequence(annotation, value, key, sources)
    if origin in (dict, Mapping) or annotation is dict:
        if not isinstance(value, Mapping):
            raise _type_error(annotation, value, key, sources)
        args = typing.get_args(annotation) or (str, Any)
        return {
            _build(args[0], k, f"{key}.{k}", sources): _build(args[1], v, f"{key}.{k}", sources)
            for k, v in value.items()
        }
    return _build_scalar(annotation, value, key, sources)


def _build_union(annotation: Any, value: Any, key: str, sources: _Sources) -> Any:
    arms = typing.get_args(annotation)
    if value is None and type(None) in arms:
        return None
    others = [arm for arm in arms if arm is not type(None)]
    if len(others) == 1:  # X | None: keep X's own message (e.g. the Literal choices)
        try:
            return _build(others[0], value, key, sources)
        except ConfigError:
            if isinstance(others[0], type) and not _is_schema(others[0]):
                raise _type_error(annotation, value, key, sources) from None  # "an int or null"
            raise
    # An exact type match wins, so 3.0 stays a float in ``int | float``.
    candidates = [arm for arm in arms if arm is type(value)] + [
        arm for arm in arms if arm is not type(None) and arm is not type(value)
    ]
    for arm in candidates:
        try:
            return _build(arm, value, key, sources)
        except ConfigError:
            continue
    raise _type_error(annotation, value, key, sources)


def _build_literal(annotation: Any, value: Any, key: str, sources: _Sources) -> Any:
    choices = typing.get_args(annotation)
    for choice in choices:
        if type(choice) is type(value) and choice == value:
            return choice
    if isinstance(value, str):  # '5' from a quoted YAML value for Literal[3, 5, 7]
        for choice in choices:
            if str(choice).lower() == value.lower() and not isinstance(choice, str):
                return choice
    allowed = ", ".join(_show(choice) for choice in choices)
    message = f"{_where(key, sources)}'{key}' expects one of {allowed}; got {_show(value)}"
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    raise ConfigError(message)


def _build_dataclass(cls: Any, value: Any, key: str, sources: _Sources) -> Any:
    if isinstance(value, cls):
        return value
    if value is None:  # an empty YAML section ("learner:") means all defaults
        value = {}
    if not isinstance(value, Mapping):
        raise _type_error(cls, value, key, sources)
    field_types = _field_types(cls)
    schema_fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for name in value:
        child = f"{key}.{name}" if key else str(name)
        if name not in field_types:
            where = sources.describe(child)
            raise ConfigError(_unknown_key_message(sources.schema, child, field_types, where))
    arguments = {}
    for name, schema_field in schema_fields.items():
        child = f"{key}.{name}" if key else name
        if name in value:
            arguments[name] = _build(field_types[name], value[name], child, sources)
        elif (
            schema_field.default is dataclasses.MISSING
            and schema_field.default_factory is dataclasses.MISSING
        ):
            raise ConfigError(f"{_where(key, sources)}missing required key '{child}'")
    try:
        return cls(**arguments)
    except ValueError as error:  # a schema's own __post_init__ check
        raise ConfigError(
            f"{_where(key, sources)}invalid '{key or cls.__name__}': {error}"
        ) from error


def _build_sequence(annotation: Any, value: Any, key: str, sources: _Sources) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(value, str):  # "64,64" from a command line; items are coerced below
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise _type_error(annotation, value, key, sources)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(value) != len(args):
            raise ConfigError(
                f"{_where(key, sources)}'{key}' expects {len(args)} items, got {len(value)}"
            )
        item_types = list(args)
    else:
        item_types = [args[0] if args else Any] * len(value)
    items = [
        _build(item_type, item, f"{key}[{index}]", sources)
        for index, (item_type, item) in enumerate(zip(item_types, value, strict=True))
    ]
    return list(items) if origin is list else tuple(items)


def _build_scalar(annotation: Any, value: Any, key: str, sources: _Sources) -> Any:
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
    elif annotation is int:
        number = _number(value)
        if isinstance(number, int):
            return number
        if isinstance(number, float) and number.is_integer():  # 1e6 steps
            return int(number)
    elif annotation is float:
        number = _number(value)
        if number is not None:
            return float(number)
    elif annotation is str:
        if isinstance(value, str):
            return value
    elif annotation is Path:
        if isinstance(value, str | Path):
            return Path(value)
    elif annotation is type(None):
        if value is None:
            return None
    elif isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
    else:
        raise TypeError(f"config key '{key}' has a type the loader cannot build: {annotation!r}")
    raise _type_error(annotation, value, key, sources)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        for parse in (int, float):
            try:
                return parse(value.strip())
            except ValueError:
                continue
    return None


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError as error:
        raise TypeError(
            f"cannot resolve the annotations of config class {cls.__qualname__}: {error}; "
            "define nested config classes at module level"
        ) from error
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _is_schema(annotation: Any) -> bool:
    """Whether a type annotation names a dataclass (a config section)."""
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def _strip_optional(annotation: Any) -> Any:
    arms = [arm for arm in _union_arms(annotation) if arm is not type(None)]
    return arms[0] if len(arms) == 1 else annotation


def _union_arms(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _require_dataclass_type(schema: Any) -> None:
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        raise TypeError(f"a config schema must be a dataclass type, got {schema!r}")


# --- messages ----------------------------------------------------------------------------------


def _describe_type(annotation: Any) -> str:
    """A noun phrase for messages: 'a float', 'one of 'uct', 'puct'', 'an int or null'."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _describe_type(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_describe_type(arm) for arm in args if arm is not type(None)]
        if type(None) in args:
            names.append("null")
        noun = " or ".join(names)
    elif origin is Literal:
        noun = "one of " + ", ".join(_show(choice) for choice in args)
    elif origin in (tuple, list, Sequence):
        simple = args and args[0] in (int, float, str, bool)
        noun = f"a list of {args[0].__name__}s" if simple else "a list"
    elif origin in (dict, Mapping) or annotation is dict:
        noun = "a mapping"
    elif _is_schema(annotation):
        noun = f"a mapping of {annotation.__name__} keys"
    elif annotation is bool:
        noun = "a bool (true or false)"
    elif annotation is int:
        noun = "an int"
    elif annotation is type(None):
        noun = "null"
    else:
        name = getattr(annotation, "__name__", str(annotation))
        noun = f"a {name}"
    return noun


def _type_error(annotation: Any, value: Any, key: str, sources: _Sources) -> ConfigError:
    noun = _describe_type(annotation)
    message = f"{_where(key, sources)}'{key}' expects {noun}, got {_show(value)}"
    if annotation is str and isinstance(value, int | float | bool):
        message += " (quote it in YAML to make it text)"
    return ConfigError(message)


def _where(key: str, sources: _Sources) -> str:
    return sources.describe(key) + ": "


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    return repr(value)


# --- writing -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


class _Dumper(yaml.SafeDumper):
    """Short lists of scalars on one line (``channels: [64, 64]``), everything else in blocks."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flat = all(not isinstance(item, dict | list) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(list, _represent_list)
