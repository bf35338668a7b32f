"""The public face of exchange_core.domain is exactly its __all__ (httpx-style check)."""

from exchange_core import domain


def test_all_lists_every_public_name_and_each_resolves() -> None:
    public = {name for name in dir(domain) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(domain, name)).__name__ == "module"}
    assert set(domain.__all__) == public - (modules - {"codes"})
    for name in domain.__all__:
        assert getattr(domain, name) is not None
