"""Random passwords from character classes with minimum counts: Heat's
``heat.common.password_gen``, which ``OS::Heat::RandomString`` and ported
plugins that make passwords use.

A character class is a set of characters and how many of them, at least,
the password must contain::

    password_gen.generate_password(16, [
        password_gen.named_char_class(password_gen.DIGITS, 2),
        password_gen.special_char_class("!@#", 1),
        password_gen.named_char_class(password_gen.LETTERS)])

Each class's minimum is drawn from that class; the rest of the length from
all the classes' characters together (each distinct character equally
likely); then the whole is shuffled, so the minimums are not at the front.
Randomness comes from the operating system (``secrets``).
"""

import collections
import secrets
import string

CHARACTER_CLASSES = (
    LETTERS_DIGITS, LETTERS, LOWERCASE, UPPERCASE, DIGITS, HEXDIGITS,
    OCTDIGITS,
) = (
    "lettersdigits", "letters", "lowercase", "uppercase", "digits",
    "hexdigits", "octdigits",
)

#: The characters of each named class.  Heat's hexdigits are upper case
#: only; kept, so a ported template gets the strings it got from Heat.
MEMBERS = {
    LETTERS_DIGITS: string.ascii_letters + string.digits,
    LETTERS: string.ascii_letters,
    LOWERCASE: string.ascii_lowercase,
    UPPERCASE: string.ascii_uppercase,
    DIGITS: string.digits,
    HEXDIGITS: string.digits + "ABCDEF",
    OCTDIGITS: string.octdigits,
}

CharClass = collections.namedtuple("CharClass", ("allowed_chars",
                                                 "min_count"))

_random = secrets.SystemRandom()


def named_char_class(char_class, min_count=0):
    """One of the classes named in :data:`CHARACTER_CLASSES`."""
    if char_class not in MEMBERS:
        raise ValueError("unknown character class %r (one of %s)"
                         % (char_class, ", ".join(CHARACTER_CLASSES)))
    return CharClass(frozenset(MEMBERS[char_class]), min_count)


def special_char_class(allowed_chars, min_count=0):
    """A class of the given characters (any iterable of them)."""
    return CharClass(frozenset(allowed_chars), min_count)


def generate_password(length, char_classes):
    """A random string of ``length`` characters from ``char_classes``
    (CharClass tuples), with at least each class's ``min_count`` of its
    characters.

    Raises ValueError when the minimums add up to more than ``length``
    (Heat silently drops some of them then: a password that misses its
    own rules is worse than an error) or when there is nothing to choose
    from.
    """
    char_classes = list(char_classes)
    minimum = sum(c.min_count for c in char_classes)
    if minimum > length:
        raise ValueError("the character classes' minimum counts (%d) add up "
                         "to more than the length %d" % (minimum, length))
    # Sorted: a set's order varies between processes, and choices from
    # a sequence should not depend on it.
    pools = [sorted(c.allowed_chars) for c in char_classes]
    if (length and not any(pools)) or any(
            c.min_count and not pool for pool, c in zip(pools, char_classes)):
        raise ValueError("no characters to choose from")
    chosen = [_random.choice(pool) for pool, c in zip(pools, char_classes)
              for _ in range(c.min_count)]
    everything = sorted(set().union(*pools))
    chosen += [_random.choice(everything)
               for _ in range(length - len(chosen))]
    _random.shuffle(chosen)
    return "".join(chosen)


def generate_openstack_password():
    """A 32-character password of the kind Keystone users get in Heat: at
    least one lower case letter, upper case letter, digit and symbol."""
    return generate_password(32, [named_char_class(LOWERCASE, 1),
                                  named_char_class(UPPERCASE, 1),
                                  named_char_class(DIGITS, 1),
                                  special_char_class("!@#%^&*", 1)])
