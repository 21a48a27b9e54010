"""Imported last by the forkserver, after the modules every analysis needs (userapi.processes).

gc.freeze() moves everything imported so far out of the garbage collector's generations: the
collector then never touches those objects in a forked worker, so their pages stay shared with the
forkserver and the other workers instead of being copied into each (Python's advice for fork).
"""

import gc

gc.freeze()
