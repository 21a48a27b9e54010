"""Imported last by the forkserver, after the modules every analysis needs (userapi.processes).

It first does once what each worker would otherwise do in its first analysis: import the rest of
the adviser and stackfiles (the adviser imports most of its modules on first use, ~60 ms) and
load the CA certificates into the index client's TLS context (~40 ms).

Then gc.freeze() moves everything imported so far out of the garbage collector's generations:
the collector never touches those objects in a forked worker, so their pages stay shared with the
forkserver and the other workers instead of being copied into each (Python's advice for fork).
"""

import encodings.cp437  # noqa: F401 - zip member names (wheels read by range requests)
import encodings.idna  # noqa: F401 - index host names
import gc
import importlib
import pkgutil

import adviser
import stackfiles
from adviser.index.http import verifying_context

for _package in (adviser, stackfiles):
    for _module in pkgutil.walk_packages(_package.__path__, f"{_package.__name__}."):
        importlib.import_module(_module.name)
verifying_context(None)  # the system's certificates, as an index without a configured CA bundle uses

gc.freeze()
