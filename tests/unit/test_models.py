"""Model definitions stay within what tortoise's migrations can express on both backends."""

import importlib
import inspect

import pytest
from tortoise.models import Model

from hub.models import MODEL_MODULES


def all_models() -> list[type[Model]]:
    models = []
    for name in MODEL_MODULES:
        module = importlib.import_module(name)
        models += [
            value
            for value in vars(module).values()
            if inspect.isclass(value) and issubclass(value, Model) and value.__module__ == name
        ]
    return models


@pytest.mark.parametrize("model", all_models(), ids=lambda model: model.__name__)
def test_no_semicolons_in_table_or_column_descriptions(model: type[Model]) -> None:
    # tortoise's SQLite schema editor splits statements on ";", and model docstrings and field
    # descriptions become table and column comments: a semicolon breaks the migration.
    assert ";" not in (model._meta.table_description or "")
    for field_name, field in model._meta.fields_map.items():
        assert ";" not in (field.description or ""), f"{model.__name__}.{field_name}"


@pytest.mark.parametrize("model", all_models(), ids=lambda model: model.__name__)
def test_every_model_names_its_table(model: type[Model]) -> None:
    assert model._meta.db_table == getattr(model.Meta, "table", None)
