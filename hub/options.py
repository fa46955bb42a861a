"""Print every platform option with its help, as a ready-to-edit configuration section.

    python -m mllab.hub.options >> jupyterhub_config.py
"""

from .platform import MLLab

if __name__ == "__main__":
    print(MLLab.class_config_section())
