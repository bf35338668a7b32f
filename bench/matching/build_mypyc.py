"""Optional: compile the hot domain modules with mypyc into /work/main/build/mypyc-core.

The pure-Python modules stay the reference; the compiled copy is used only by a process
that puts the build directory first on its path:

    .venv/bin/python bench/matching/build_mypyc.py            # build (about a minute)
    PYTHONPATH=build/mypyc-core .venv/bin/python bench/matching/bench.py --mode mix
    PYTHONPATH=build/mypyc-core .venv/bin/pytest services/trading-core/tests/unit/domain

Without the build directory on the path (the default everywhere), nothing changes.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "services/trading-core/src/exchange_core"
OUT = ROOT / "build/mypyc-core"
HOT = ["account", "book", "engine", "events", "fees", "lifecycle", "market", "market_state", "matching",
       "order", "record", "results",
       "validation"]

SETUP = """
from setuptools import setup
from mypyc.build import mypycify

setup(name="exchange-core-mypyc", ext_modules=mypycify({files!r}, opt_level="3",
      strict_dunder_typing=False))
"""


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    shutil.copytree(SRC, OUT / "exchange_core",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    files = [f"exchange_core/domain/{name}.py" for name in HOT]
    (OUT / "setup.py").write_text(SETUP.format(files=files))
    cmd = [sys.executable, "setup.py", "build_ext", "--inplace"]
    done = subprocess.run(cmd, cwd=OUT, check=False, capture_output=True, text=True)
    if done.returncode:
        print(done.stdout[-4000:], done.stderr[-4000:])
        return done.returncode
    built = sorted(p.name for p in (OUT / "exchange_core/domain").glob("*.so"))
    print(f"compiled {len(built)} modules into {OUT}: {', '.join(built)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
