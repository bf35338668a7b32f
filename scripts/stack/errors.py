"""The one error the stack raises: a message for a person, naming what to read or do."""


class StackError(RuntimeError):
    """A server could not be started, stopped or reached; the message says why and where."""
