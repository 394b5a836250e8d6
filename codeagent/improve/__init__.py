"""The self-improvement loop: run -> verify -> export -> train -> evaluate, iterated."""

from .config import PRESETS, ImproveConfig, preset_config
from .loop import improve

__all__ = ["PRESETS", "ImproveConfig", "improve", "preset_config"]
