"""Write commands/declared.json from the features' decorators (api/deferred.py): run it after
declaring, renaming or removing a command, job, flow, hook or privacy part.

    .venv/bin/python scripts/declarations.py
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.router import write_declared  # noqa: E402

print(f"wrote {write_declared()}")
