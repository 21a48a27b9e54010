"""The project files as data: the bottom layer that thamos (the client) and adviser (the engine) share.

One owner per format:

- ``pipfile``: reading a Pipfile and THE lock hash (pipenv's definition);
- ``pipfile_lock``: the shape of a Pipfile.lock, its entries and its rendering;
- ``requirements``: requirements.in / requirements.txt lines, read and written;
- ``toml``: reading TOML text (the standard library where it exists);
- ``atomic``: the one atomic writer for a user's files;
- ``flags``: the one reader of yes/no words in settings and environment variables.

Nothing here knows HTTP, the CLI or the resolver; errors are ``StackFileError`` (bad input, with a
message naming the file and the problem) and ``StackFileWriteError`` (a file could not be written).
"""

from stackfiles.errors import StackFileError, StackFileWriteError

__all__ = ["StackFileError", "StackFileWriteError"]
