"""Load ``scripts/regenerate`` (a script without a .py suffix) as a module for tests."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "regenerate"


def load_regenerate() -> ModuleType:
    """Import scripts/regenerate once and return it."""
    if "kie_regenerate" in sys.modules:
        return sys.modules["kie_regenerate"]
    loader = importlib.machinery.SourceFileLoader("kie_regenerate", str(SCRIPT))
    spec = importlib.util.spec_from_loader("kie_regenerate", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kie_regenerate"] = module
    loader.exec_module(module)
    return module
