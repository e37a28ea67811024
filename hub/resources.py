"""Locates the data folders (config/, templates/) in a source checkout or an installed wheel."""

import sys
from pathlib import Path

# In a checkout (or an editable install) the folders sit beside the hub package.
_CHECKOUT_ROOT = Path(__file__).resolve().parent.parent
# A wheel installs them as shared data under <prefix>/share/wxhub (see pyproject.toml).
_INSTALLED_ROOT = Path(sys.prefix) / "share" / "wxhub"


def resource_dir(name: str) -> Path:
    """Return the folder `name` ("config" or "templates").

    Raises:
        FileNotFoundError: neither a checkout nor an installed copy has the folder.
    """
    for root in (_CHECKOUT_ROOT, _INSTALLED_ROOT):
        candidate = root / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"wxhub data folder {name!r} not found beside the package or in {_INSTALLED_ROOT}"
    )
