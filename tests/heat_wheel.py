"""Heat's own resource plugins, ported by rewriting their import lines only.

The openstack-heat wheel is fetched once with ``pip download --no-deps``
into a cache outside the repository (``~/.cache/heatflow-tests``, or
``$HEATFLOW_TEST_CACHE``); Heat's files are never committed.  The modules
named in :data:`MODULES` are copied from it into a package
``heat_ported`` beside the wheel, every import line rewritten by
:func:`rewrite_imports` and nothing else touched, and the package is put on
``sys.path``.

:func:`ported` returns the package's directory, or raises
:class:`WheelUnavailable` when the wheel cannot be had (the caller skips,
except in CI, where that is a failure).
"""

import hashlib
import os
import pathlib
import re
import subprocess
import sys
import zipfile

HEAT_VERSION = "27.0.1"
PACKAGE = "heat_ported"

_HEAT = "heat/engine/resources/openstack/"

#: Heat's files ported, by the module name they get in the package.
MODULES = {
    "none_resource": _HEAT + "heat/none_resource.py",
    "value": _HEAT + "heat/value.py",
    "random_string": _HEAT + "heat/random_string.py",
    "test_resource": _HEAT + "heat/test_resource.py",
    "delay": _HEAT + "heat/delay.py",
    "access_policy": _HEAT + "heat/access_policy.py",
    "ha_restarter": _HEAT + "heat/ha_restarter.py",
    "software_config": _HEAT + "heat/software_config.py",
    "cloud_config": _HEAT + "heat/cloud_config.py",
    "multi_part": _HEAT + "heat/multi_part.py",
    "software_component": _HEAT + "heat/software_component.py",
    "structured_config": _HEAT + "heat/structured_config.py",
    "generic_resource": "heat/tests/generic_resource.py",
    "keypair": _HEAT + "nova/keypair.py",
    # OS::Neutron::Net's base class, a resource module of its own.
    "neutron": _HEAT + "neutron/neutron.py",
    "net": _HEAT + "neutron/net.py",
}

# Where Heat's modules live in heatflow.  A module not named here keeps its
# import: it exists in heatflow under no name, and importing the plugin
# says so.
_RENAMES = [
    # Heat's resource modules import each other: the ported copies.
    (r"heat\.engine\.resources\.openstack\.\w+", PACKAGE),
    (r"heat\.engine\.hot", "heatflow.template"),
    (r"heat\.engine", "heatflow"),
    (r"heat\.common", "heatflow"),
]

_IMPORT = re.compile(r"^(\s*)(from|import)\s+(\S+)(.*)$")


class WheelUnavailable(Exception):
    pass


def rewrite_imports(source):
    """``source`` with every import line of a ``heat.*`` module (and
    oslo_log's) pointing at heatflow's; other lines untouched."""
    out = []
    for line in source.splitlines(keepends=True):
        m = _IMPORT.match(line)
        if m:
            line = _rewrite(m) + ("\n" if line.endswith("\n") else "")
        out.append(line)
    return "".join(out)


def _rewrite(m):
    indent, keyword, module, rest = m.groups()
    if module == "oslo_log" and rest.strip() == "import log as logging":
        return "%simport logging" % indent
    if module == "heat.rpc" and rest.strip().startswith("import api "):
        # heatflow.api is the engine's API; Heat's RPC names are here.
        return "%sfrom heatflow import rpc_api %s" % (
            indent, rest.strip()[len("import api "):])
    for pattern, new in _RENAMES:
        renamed = re.sub(r"^%s(?=\.|$)" % pattern, new, module)
        if renamed != module:
            return "%s%s %s%s" % (indent, keyword, renamed, rest)
    return m.group(0)


def cache_dir():
    return pathlib.Path(os.environ.get(
        "HEATFLOW_TEST_CACHE",
        pathlib.Path.home() / ".cache" / "heatflow-tests"))


def wheel():
    """The wheel's path, downloaded the first time."""
    wheels = cache_dir() / "wheels"
    name = "openstack_heat-%s-py3-none-any.whl" % HEAT_VERSION
    path = wheels / name
    if not path.exists():
        wheels.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps",
             "--disable-pip-version-check", "-q", "-d", str(wheels),
             "openstack-heat==%s" % HEAT_VERSION],
            capture_output=True, text=True, timeout=300)
        if done.returncode or not path.exists():
            raise WheelUnavailable(
                "pip download openstack-heat==%s failed: %s"
                % (HEAT_VERSION, (done.stderr or done.stdout)[-2000:]))
    return path


def ported():
    """The directory holding the ``heat_ported`` package (on sys.path)."""
    path = wheel()
    # Rewritten again when this module's rules change.
    rules = hashlib.sha1(pathlib.Path(__file__).read_bytes()).hexdigest()
    root = cache_dir() / ("ported-%s-%s" % (HEAT_VERSION, rules[:12]))
    package = root / PACKAGE
    if not (package / "__init__.py").exists():
        package.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path) as whl:
            for module, member in MODULES.items():
                source = whl.read(member).decode("utf-8")
                (package / (module + ".py")).write_text(
                    rewrite_imports(source))
        (package / "__init__.py").write_text("")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return package
