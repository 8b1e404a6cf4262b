"""Each module registers one platform's fake API with `@platform(name)`."""

from importlib import import_module
from pathlib import Path

for _module in sorted(Path(__file__).parent.glob("*.py")):
    if _module.stem != "__init__":
        import_module(f"{__name__}.{_module.stem}")
