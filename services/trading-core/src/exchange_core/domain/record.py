"""Value semantics for the domain's event and result classes.

Events and results are plain classes with typed attributes rather than NamedTuples: the
mypyc build (ADR 0003) compiles them into C structs that cost ~40 ns to create, against
~200 ns for a tuple subclass. Equality (by type and fields, in ``_fields`` order) and a
readable repr are what tests and logs need; neither is on the hot path.
"""

from typing import ClassVar


class Record:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        return all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f) for f in self._fields))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({inner})"
