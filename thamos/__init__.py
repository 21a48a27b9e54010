"""thamos: the command-line tool and library of the Thoth recommendation service."""

__version__ = "2.0.0.dev0"
__title__ = "thamos"
