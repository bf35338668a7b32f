"""Compile the trading core's hot modules with mypyc: scripts/build_native.py [--check].

Output: build/native-core/ (the compiled group and a stamp of its sources). Skipped when
the stamp is fresh. exchange_core.compiled decides at import time whether to use it.
--check prints whether the build is fresh and exits 1 when it is not.

The C is compiled profile-guided (ADR 0006): an instrumented build runs
scripts/native_training.py, then the final build uses the counts it left. With
``EXCHANGE_CORE_PGO=0`` (or when the training run fails) it is one plain build. Both use
``-fno-semantic-interposition`` (the group's functions may be inlined into each other:
nothing outside the module replaces them) and ``-fno-plt``.
"""

import argparse
import os
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


FLAGS = "-fno-semantic-interposition -fno-plt"
INSTRUMENTED = "INSTRUMENTED"  # marks a training build: never left as the final one


def build(out: Path, cflags: str = FLAGS, ldflags: str = "", *, instrumented: bool = False) -> None:
    work = out.with_name(out.name + ".work")
    shutil.rmtree(work, ignore_errors=True)
    (work / "lib").mkdir(parents=True)
    files = [f"exchange_core/{name}.py" for name in compiled.MODULES]
    setup_py = work / "setup.py"
    setup_py.write_text(SETUP.format(files=files, target=str(work / "c")))
    cmd = [sys.executable, str(setup_py), "build_ext", "--build-lib", str(work / "lib"),
           "--build-temp", str(work / "obj")]
    env = dict(os.environ)
    env["CFLAGS"] = f"{os.environ.get('CFLAGS', '')} {cflags}".strip()
    env["LDFLAGS"] = f"{os.environ.get('LDFLAGS', '')} {ldflags}".strip()
    done = subprocess.run(cmd, cwd=SRC, check=False, capture_output=True, text=True, env=env)
    if done.returncode:
        log = work / "build.log"
        log.write_text(done.stdout + done.stderr)
        sys.exit(f"build_native: mypyc build failed (exit {done.returncode}); read {log}")
    digest = compiled.source_digest()
    (work / "lib" / compiled.STAMP_NAME).write_text(digest + "\n")
    if instrumented:
        (work / "lib" / INSTRUMENTED).write_text("training build: rerun build_native\n")
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
    if not reason and (out / INSTRUMENTED).exists():
        reason = "an instrumented training build was left by an interrupted run"
    if args.check:
        print(f"build_native: {reason or 'fresh: ' + str(out)}")
        return 1 if reason else 0
    if not reason and not args.force:
        print(f"build_native: up to date ({len(compiled.MODULES)} modules in {out})")
        return 0
    started = time.monotonic()
    how = "profile-guided"
    if os.environ.get("EXCHANGE_CORE_PGO", "1") == "0":
        how = "plain (EXCHANGE_CORE_PGO=0)"
        build(out)
    elif not build_guided(out):
        how = "plain (the training run failed, see above)"
        build(out)
    print(f"build_native: compiled {len(compiled.MODULES)} modules into {out} "
          f"in {time.monotonic() - started:.0f} s, {how}")
    return 0


def build_guided(out: Path) -> bool:
    """Instrumented build, training run, final build from its counts; False when the
    training run failed (the caller then makes a plain build)."""
    profile = out.with_name(out.name + ".profile")
    shutil.rmtree(profile, ignore_errors=True)
    build(out, f"{FLAGS} -fprofile-generate={profile} -fprofile-update=single",
          f"-fprofile-generate={profile}", instrumented=True)
    training = ROOT / "scripts" / "native_training.py"
    try:
        done = subprocess.run([sys.executable, str(training)], cwd=ROOT, check=False,
                              capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        print("build_native: training run timed out after 600 s", file=sys.stderr)
        return False
    if done.returncode:
        print(f"build_native: training run failed (exit {done.returncode}):\n"
              f"{done.stdout}{done.stderr}", file=sys.stderr)
        return False
    build(out, f"{FLAGS} -fprofile-use={profile} -fprofile-partial-training "
          "-Wno-missing-profile")
    return True


if __name__ == "__main__":
    raise SystemExit(main())
