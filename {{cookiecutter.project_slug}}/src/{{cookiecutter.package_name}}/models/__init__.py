"""The ONE place models are imported and so registered on the metadata.

Import models from here (`from {{ cookiecutter.package_name }}.models import User`), never by
re-declaring or re-importing them under another path: a second registration is what
produces "index ... already exists" and "Table ... is already defined" errors.
"""

from .base import Base
from .item import Item
from .user import User

__all__ = ["Base", "Item", "User"]
