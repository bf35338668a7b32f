"""Shared test configuration of the trading core: Hypothesis profiles.

Select with HYPOTHESIS_PROFILE: ``dev`` (default, quick), ``ci`` (thousands of random
command streams; the domain suite stays around a minute on the 2-core dev machine).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=150, deadline=None)
settings.register_profile(
    "ci",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_report_header() -> str:
    """Say which engine build runs: the pure modules or the optional mypyc build."""
    from exchange_core.domain import engine

    kind = "compiled (mypyc)" if engine.__file__.endswith(".so") else "pure Python"
    return f"exchange_core.domain: {kind} from {engine.__file__}"
