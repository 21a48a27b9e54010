"""The small, realistic dependency graph served by the session-scoped ``sample_index`` fixture.

Every release has a py3-none-any wheel with a PEP 658 ``.metadata`` file and an sdist unless the
table says otherwise. Upload times are the defaults: each project's oldest release on 2022-01-03,
each later version 30 days after the previous one (so ``2.1`` is newer than ``2.0``).

===================  ========  =============================================================
project              version   requirements and peculiarities
===================  ========  =============================================================
webapp-framework     1.0       templating>=2, signals
webapp-framework     2.0       templating>=2, signals>=1.1, typing-compat; python_version < "3.10";
                               Requires-Python >=3.8
webapp-framework     2.1       templating>=2,<4, signals>=1.1, http-client>=1.0;
                               extra ``async``: http-client[socks]>=1.1; Requires-Python >=3.8
templating           2.0       markup-escape>=1.0
templating           3.0       markup-escape>=1.1; extra ``i18n``: translations>=0.5
templating           3.1rc1    pre-release; same requirements as 3.0
markup-escape        1.0       (none)
markup-escape        1.1       two wheels: py3-none-any and cp311-cp311-manylinux_2_17_x86_64
translations         0.5       (none)
signals              1.0       (none)
signals              1.1       (none)
signals              1.2       YANKED, reason "dispatch broken, use 1.1"
http-client          1.0       (none)
http-client          1.1       extra ``socks``: socks-lib>=1.0
http-client          1.2       extra ``socks``: socks-lib>=1.1; Requires-Python >=3.12
socks-lib            1.0       (none)
socks-lib            1.1       (none)
typing-compat        1.0       (none)
fast-parser          1.0       only a cp311-cp311-manylinux_2_17_x86_64 wheel (no sdist)
win-console          1.0       only a cp311-cp311-win_amd64 wheel (no sdist)
legacy-tool          0.9       signals; no PEP 658 file (metadata_file=False: use range reads)
legacy-tool          1.0       signals>=1.1; no PEP 658 file
plain-sdist          1.0       sdist only, static metadata: markup-escape>=1.0
dynamic-sdist        0.3       sdist only, ``Dynamic: Requires-Dist`` (deps in setup.cfg: signals>=1.0)
Data_Tools           1.0       non-normalized name: page /simple/data-tools/, files data_tools-1.0-*
===================  ========  =============================================================

Import name of each project is its normalized name with underscores (``webapp_framework``).
"""

from __future__ import annotations

from tests.support.dist_builder import Dist

MANYLINUX_CP311 = "cp311-cp311-manylinux_2_17_x86_64"
WIN_CP311 = "cp311-cp311-win_amd64"
WEB_CLASSIFIERS = (
    "Framework :: Test Suite",
    "Programming Language :: Python :: 3",
    "Development Status :: 5 - Production/Stable",
)

SAMPLE_DISTS: list[Dist] = [
    Dist("webapp-framework", "1.0", requires_dist=("templating>=2", "signals"), classifiers=WEB_CLASSIFIERS),
    Dist(
        "webapp-framework",
        "2.0",
        requires_dist=("templating>=2", "signals>=1.1", 'typing-compat; python_version < "3.10"'),
        requires_python=">=3.8",
        classifiers=WEB_CLASSIFIERS,
    ),
    Dist(
        "webapp-framework",
        "2.1",
        requires_dist=("templating<4,>=2", "signals>=1.1", "http-client>=1.0"),
        extras={"async": ["http-client[socks]>=1.1"]},
        requires_python=">=3.8",
        classifiers=WEB_CLASSIFIERS,
    ),
    Dist("templating", "2.0", requires_dist=("markup-escape>=1.0",)),
    Dist("templating", "3.0", requires_dist=("markup-escape>=1.1",), extras={"i18n": ["translations>=0.5"]}),
    Dist(
        "templating", "3.1rc1", requires_dist=("markup-escape>=1.1",), extras={"i18n": ["translations>=0.5"]}
    ),
    Dist("markup-escape", "1.0"),
    Dist("markup-escape", "1.1", wheel_tags=("py3-none-any", MANYLINUX_CP311)),
    Dist("translations", "0.5"),
    Dist("signals", "1.0"),
    Dist("signals", "1.1"),
    Dist("signals", "1.2", yanked="dispatch broken, use 1.1"),
    Dist("http-client", "1.0"),
    Dist("http-client", "1.1", extras={"socks": ["socks-lib>=1.0"]}),
    Dist("http-client", "1.2", extras={"socks": ["socks-lib>=1.1"]}, requires_python=">=3.12"),
    Dist("socks-lib", "1.0"),
    Dist("socks-lib", "1.1"),
    Dist("typing-compat", "1.0"),
    Dist("fast-parser", "1.0", wheel_tags=(MANYLINUX_CP311,), sdist=False),
    Dist("win-console", "1.0", wheel_tags=(WIN_CP311,), sdist=False),
    Dist("legacy-tool", "0.9", requires_dist=("signals",), metadata_file=False),
    Dist("legacy-tool", "1.0", requires_dist=("signals>=1.1",), metadata_file=False),
    Dist("plain-sdist", "1.0", requires_dist=("markup-escape>=1.0",), wheel=False),
    Dist("dynamic-sdist", "0.3", requires_dist=("signals>=1.0",), wheel=False, dynamic_deps=True),
    Dist("Data_Tools", "1.0"),
]
