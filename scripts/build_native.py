"""Compile the trading core's hot modules with mypyc: scripts/build_native.py [--check].

Output: build/native-core/ (the compiled group and a stamp of its sources). Skipped when
the stamp is fresh. exchange_core.compiled decides at import time whether to use it.
--check prints whether the build is fresh and exits 1 when it is not.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "services" / "trading-core" / "src"
sys.path.insert(0, str(SRC))

from exchange_core import compiled

SETUP = """
from setuptools import setup
from mypyc.build import mypycify

setup(name="exchange-core-native", ext_modules=mypycify({files!r}, opt_level="3",
      target_dir={target!r}, strict_dunder_typing=False))
"""


def build(out: Path) -> None:
    work = out.with_name(out.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    (work / "lib").mkdir(parents=True)
    files = [f"exchange_core/{name}.py" for name in compiled.MODULES]
    setup_py = work / "setup.py"
    setup_py.write_text(SETUP.format(files=files, target=str(work / "c")))
    cmd = [sys.executable, str(setup_py), "build_ext", "--build-lib", str(work / "lib"),
           "--build-temp", str(work / "obj")]
    done = subprocess.run(cmd, cwd=SRC, check=False, capture_output=True, text=True)
    if done.returncode:
        log = work / "build.log"
        log.write_text(done.stdout + done.stderr)
        sys.exit(f"build_native: mypyc build failed (exit {done.returncode}); read {log}")
    digest = compiled.source_digest()
    (work / "lib" / compiled.STAMP_NAME).write_text(digest + "\n")
    shutil.rmtree(out, ignore_errors=True)
    (work / "lib").rename(out)
    shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report freshness")
    parser.add_argument("--force", action="store_true", help="rebuild even when fresh")
    args = parser.parse_args()
    out = compiled.build_dir()
    reason = compiled.freshness(out)
    if args.check:
        print(f"build_native: {reason or 'fresh: ' + str(out)}")
        return 1 if reason else 0
    if not reason and not args.force:
        print(f"build_native: up to date ({len(compiled.MODULES)} modules in {out})")
        return 0
    started = time.monotonic()
    build(out)
    print(f"build_native: compiled {len(compiled.MODULES)} modules into {out} "
          f"in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
