"""Fake Nova, Neutron and Keystone clients, registered as heatflow client
plugins, for Heat's own client-based plugins (OS::Nova::KeyPair,
OS::Neutron::Net) in tests/functional/test_heat_wheel.py.

The fakes keep their objects in memory (:data:`CLOUD`) and behave as the
real services do where the plugins rely on it: names of key pairs are
unique (a second create is a conflict), an unknown id is "not found", a
network is BUILD on its first look and ACTIVE after.  Tests read
:data:`CLOUD` to see what exists, so a leak is visible.
"""

import itertools
import threading
import uuid

from heatflow import clients


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


class Cloud:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.keypairs = {}
        self.networks = {}
        self.calls = []


CLOUD = Cloud()
_keys = itertools.count(1)


class KeyPairRecord:
    def __init__(self, name, public_key, private_key, key_type, user_id):
        self.id = self.name = name
        self.public_key = public_key
        self.key_type = key_type
        self.user_id = user_id
        if private_key is not None:
            self.private_key = private_key


class Keypairs:
    def create(self, name, public_key=None, key_type="ssh", user_id=None):
        with CLOUD.lock:
            CLOUD.calls.append(("keypairs.create", name))
            if name in CLOUD.keypairs:
                raise Conflict("Key pair '%s' already exists." % name)
            private = None
            if public_key is None:
                n = next(_keys)
                public_key, private = "ssh-rsa PUB%d" % n, "PRIV%d" % n
            record = KeyPairRecord(name, public_key, private, key_type,
                                   user_id)
            CLOUD.keypairs[name] = record
            return record

    def get(self, name):
        with CLOUD.lock:
            if name not in CLOUD.keypairs:
                raise NotFound("Keypair %s not found" % name)
            return CLOUD.keypairs[name]

    def delete(self, name):
        with CLOUD.lock:
            CLOUD.calls.append(("keypairs.delete", name))
            if CLOUD.keypairs.pop(name, None) is None:
                raise NotFound("Keypair %s not found" % name)


class FakeNova:
    def __init__(self):
        self.keypairs = Keypairs()


class NovaPlugin(clients.ClientPlugin):
    """What OS::Nova::KeyPair asks of Heat's nova client plugin."""

    #: The newest API microversion the fake speaks: key types (2.2) and
    #: users (2.10), not 2.92 (where a public key is required).
    max_microversion = (2, 79)

    def _create(self, version=None):
        return FakeNova()

    def is_not_found(self, ex):
        return isinstance(ex, NotFound)

    def is_conflict(self, ex):
        return isinstance(ex, Conflict)

    def is_version_supported(self, version):
        wanted = tuple(int(p) for p in str(version).split("."))
        return wanted <= self.max_microversion

    def get_keypair(self, key_name):
        return self.client().keypairs.get(key_name)


class FakeNeutron:
    def create_network(self, body):
        net = dict(body["network"])
        net.update(id=str(uuid.uuid4()), status="BUILD", subnets=[],
                   mtu=1450, segments=[])
        net.setdefault("admin_state_up", True)
        with CLOUD.lock:
            CLOUD.calls.append(("create_network", net["name"]))
            CLOUD.networks[net["id"]] = net
        return {"network": dict(net)}

    def show_network(self, net_id):
        with CLOUD.lock:
            net = CLOUD.networks.get(net_id)
            if net is None:
                raise NotFound("Network %s could not be found." % net_id)
            shown = dict(net)
            net["status"] = "ACTIVE"        # built once looked at
            return {"network": shown}

    def update_network(self, net_id, body):
        with CLOUD.lock:
            CLOUD.calls.append(("update_network", net_id))
            if net_id not in CLOUD.networks:
                raise NotFound("Network %s could not be found." % net_id)
            CLOUD.networks[net_id].update(body["network"])

    def delete_network(self, net_id):
        with CLOUD.lock:
            CLOUD.calls.append(("delete_network", net_id))
            if CLOUD.networks.pop(net_id, None) is None:
                raise NotFound("Network %s could not be found." % net_id)

    def list_dhcp_agent_hosting_networks(self, net_id):
        return {"agents": []}

    def replace_tag(self, plural, resource_id, body):
        with CLOUD.lock:
            CLOUD.networks[resource_id]["tags"] = list(body["tags"])


class NeutronPlugin(clients.ClientPlugin):
    def _create(self, version=None):
        return FakeNeutron()

    def is_not_found(self, ex):
        return isinstance(ex, NotFound)

    def is_conflict(self, ex):
        return isinstance(ex, Conflict)

    def get_qos_policy_id(self, policy):
        return "qos-" + str(policy)


class KeystonePlugin(clients.ClientPlugin):
    """Only what OS::Nova::KeyPair's translation rule asks: a user's id."""

    def _create(self, version=None):
        return None

    def get_user_id(self, user):
        return "id-of-" + str(user)


PLUGINS = {"nova": NovaPlugin, "neutron": NeutronPlugin,
           "keystone": KeystonePlugin}


def register():
    for name, cls in PLUGINS.items():
        clients.register_client_plugin(name, cls)


def unregister():
    for name in PLUGINS:
        clients.unregister_client_plugin(name)
