"""The two ways a project file can fail: its content, or writing it."""


class StackFileError(ValueError):
    """A project file cannot be understood; the message names the file and the problem."""

    @property
    def message(self) -> str:
        return str(self)


class StackFileWriteError(OSError):
    """A project file could not be written; nothing the user owns was changed."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else "write failed"
