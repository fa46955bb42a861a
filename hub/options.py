"""Print every option of the platform and of its services, with its help, as a
ready-to-edit configuration section.

    python -m mllab.hub.options >> jupyterhub_config.py
"""

from __future__ import annotations

from traitlets.config import Configurable

from .platform import MLLab
from .services import BUILTIN


def option_classes() -> list[type[Configurable]]:
    """`MLLab`, then each built-in service's application and the classes it configures."""
    classes: list[type[Configurable]] = [MLLab]
    for builtin in BUILTIN.values():
        for cls in (builtin.app, *builtin.app.classes):
            if cls not in classes:
                classes.append(cls)
    return classes


def main() -> None:
    for cls in option_classes():
        print(cls.class_config_section())


if __name__ == "__main__":
    main()
