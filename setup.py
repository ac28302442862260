"""heatflow: OpenStack Heat's convergence engine as a library on TaskFlow."""

from setuptools import find_packages, setup

# flows/ and persistence/ live at the top of the repository (the layout is a
# contract) but install as heatflow.flows and heatflow.persistence, so the
# library takes no generic top-level import names.  Subpackages are found,
# not listed: a new one cannot be left out of a wheel.
PACKAGE_DIRS = {
    "heatflow": "heatflow",
    "heatflow.flows": "flows",
    "heatflow.persistence": "persistence",
}
PACKAGES = [sub for top, path in PACKAGE_DIRS.items()
            for sub in [top] + ["%s.%s" % (top, p)
                                for p in find_packages(path)]]

setup(
    name="heatflow",
    version="0.1.0",
    description="HOT templates converged on TaskFlow: create, update, "
                "roll back and delete stacks of resources",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=PACKAGES,
    package_dir=PACKAGE_DIRS,
    package_data={"heatflow.persistence.migrations": ["alembic.ini", "script.py.mako"]},
    install_requires=[
        # Ranges are the versions the test suite runs against; heatflow
        # relies on some TaskFlow internals (see persistence/taskflow_backend.py,
        # flows/engine.py).
        "taskflow>=6.0,<6.6",
        "kazoo>=2.9,<2.12",
        "SQLAlchemy>=2.0,<2.2",
        "alembic>=1.12,<1.21",
        "PyYAML>=6.0,<7",
        "futurist>=3.0,<3.6",
        # Fernet, for encryption at rest (persistence/sealing.py)
        "cryptography>=41,<50",
        # the yaql template function, as Heat evaluates it
        "yaql>=3.0,<4",
    ],
    extras_require={
        "postgresql": ["psycopg2-binary>=2.9"],
        # Prometheus metrics (heatflow/metrics.py)
        "metrics": ["prometheus-client>=0.17"],
    },
    entry_points={
        "console_scripts": ["heatflow = heatflow.cli:main"],
        "heatflow.resources": [],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
    ],
)
