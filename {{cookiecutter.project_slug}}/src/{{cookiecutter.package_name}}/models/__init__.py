"""The ONE place models are imported and so registered on the metadata.

Import models from here, never by re-declaring or re-importing them under another path:

    from {{ cookiecutter.package_name }}.models import User

A second registration is what produces "index ... already exists" and
"Table ... is already defined for this MetaData instance" errors.
"""

from .base import Base
from .item import Item
from .user import User

__all__ = ["Base", "Item", "User"]
