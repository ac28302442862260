"""Encryption at rest of the values users and plugins give heatflow.

With a key configured (``HEATFLOW_ENCRYPTION_KEY``, or ``encryption_key=``
of ``Orchestrator``, ``Conductor`` and ``Database``), every column that can
hold a user's or a plugin's value -- parameters, templates, files,
environments, outputs, resource properties, metadata, attributes, plugin
data and tokens, and the results TaskFlow records for atoms -- is written
*sealed*: ``{"$sealed": "<Fernet token>"}`` in place of the value.  Fernet
(from the ``cryptography`` package) is AES-128-CBC with an HMAC-SHA256, so a
token cannot be read or altered without the key.

Several keys may be given, comma-separated: the first seals, all of them
open (rotation: put the new key first and keep the old ones until every
stack has been updated or deleted).  Values written before a key was
configured stay readable; values sealed cannot be read without a key, and
reading one raises :class:`heatflow.exception.EncryptionKeyError` (nothing
is guessed).

The cipher belongs to a SQLAlchemy engine (it is set on the engine's
dialect, which the column types are handed on every conversion), so two
databases opened in one process may use different keys, and every
statement -- heatflow's and TaskFlow's -- goes through the same types.
"""

import json
import os

import sqlalchemy as sa

from heatflow import exception

ENV_KEY = "HEATFLOW_ENCRYPTION_KEY"
SEALED = "$sealed"
_ATTR = "heatflow_cipher"


def generate_key():
    """A new random key, as text (for ``HEATFLOW_ENCRYPTION_KEY``)."""
    from cryptography import fernet
    return fernet.Fernet.generate_key().decode("ascii")


class Cipher:
    """Seals and opens JSON values with one or more Fernet keys."""

    def __init__(self, keys):
        from cryptography import fernet
        if isinstance(keys, (str, bytes)):
            keys = keys.decode() if isinstance(keys, bytes) else keys
            keys = [k.strip() for k in keys.split(",") if k.strip()]
        keys = list(keys or ())
        if not keys:
            raise exception.EncryptionKeyError("no encryption key given")
        try:
            self._fernet = fernet.MultiFernet([fernet.Fernet(k)
                                               for k in keys])
        except (ValueError, TypeError):
            # The message would not help more (and must not echo the key).
            raise exception.EncryptionKeyError(
                "an encryption key must be 32 url-safe base64-encoded bytes "
                "(make one with `heatflow db generate-key`)") from None
        self._invalid = fernet.InvalidToken

    def seal(self, value):
        text = json.dumps(value, separators=(",", ":"))
        token = self._fernet.encrypt(text.encode("utf-8"))
        return {SEALED: token.decode("ascii")}

    def open(self, sealed):
        try:
            text = self._fernet.decrypt(sealed[SEALED].encode("ascii"))
        except (self._invalid, AttributeError, ValueError):
            raise exception.EncryptionKeyError(
                "stored data cannot be decrypted with the configured "
                "encryption key(s)") from None
        return json.loads(text)


def configured_cipher(key=None):
    """The cipher for ``key`` (a key, or keys comma-separated), else for
    ``HEATFLOW_ENCRYPTION_KEY``; None when neither is set."""
    key = key or os.environ.get(ENV_KEY) or None
    return Cipher(key) if key else None


def attach(engine, cipher):
    """Seal what ``engine`` writes (and open what it reads) with
    ``cipher`` (None: write in clear, refuse to read sealed values)."""
    setattr(engine.dialect, _ATTR, cipher)


def is_sealed(value):
    return isinstance(value, dict) and len(value) == 1 and SEALED in value


class Sealed(sa.types.TypeDecorator):
    """A JSON column whose values are sealed when the engine has a cipher.

    ``inner``: the column's own type (``sa.JSON``, or TaskFlow's JSON text
    type), which stores the sealed envelope as it stored the value."""

    impl = sa.types.JSON
    cache_ok = True

    def __init__(self, inner=None):
        super().__init__()
        self.inner = inner     # (part of the type's cache key)
        if inner is not None:
            self.impl = inner() if isinstance(inner, type) else inner

    def process_bind_param(self, value, dialect):
        cipher = getattr(dialect, _ATTR, None)
        if cipher is None or value is None:
            return value
        return cipher.seal(value)

    def process_result_value(self, value, dialect):
        if not is_sealed(value):
            return value
        cipher = getattr(dialect, _ATTR, None)
        if cipher is None:
            raise exception.EncryptionKeyError(
                "stored data is encrypted and no encryption key is "
                "configured (set %s)" % ENV_KEY)
        return cipher.open(value)
