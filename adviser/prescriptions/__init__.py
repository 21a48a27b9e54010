"""Prescriptions: Thoth's declarative knowledge (YAML units in repositories) applied by the adviser.

``loader`` reads and validates repositories (``schema`` holds the language), ``compiled`` turns
them into an on-disk index keyed by package name (rebuilt only when the sources change),
``sources`` fetches git repositories, ``context`` decides which units join a request
(``should_include``), ``matching`` matches packages and resolver states, and ``evaluator`` is the
decision unit that applies the included units to a resolution.
"""


