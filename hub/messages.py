"""Rendering message templates: templates/messages/<name>.toml, one Jinja2 string per field.

Rendering is strict: a missing variable is an error, never an empty string in a customer's
message.
"""

import tomllib
from functools import cache
from typing import Any

from jinja2 import Environment, StrictUndefined, Template

from hub.resources import resource_dir

_ENVIRONMENT = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701 - plain text


@cache
def _templates(name: str) -> dict[str, Template]:
    path = resource_dir("templates") / "messages" / f"{name}.toml"
    with path.open("rb") as handle:
        fields = tomllib.load(handle)
    return {field: _ENVIRONMENT.from_string(str(source)) for field, source in fields.items()}


def render_text(name: str, context: dict[str, Any]) -> dict[str, str]:
    """Every field of the named message template rendered with `context`.

    Raises:
        jinja2.UndefinedError: the template uses a variable the context lacks.
        FileNotFoundError: no such template.
    """
    return {field: template.render(context).strip() for field, template in _templates(name).items()}
