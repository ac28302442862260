"""heatflow.password_gen: Heat's character classes and minimum counts
(issue 18)."""

import string

import pytest

from heatflow import password_gen as pg


@pytest.mark.parametrize("attempt", range(20))
def test_minimums_and_only_allowed_characters(attempt):
    text = pg.generate_password(10, [pg.named_char_class(pg.DIGITS, 3),
                                     pg.special_char_class("!@", 2),
                                     pg.named_char_class(pg.UPPERCASE)])
    assert len(text) == 10
    assert sum(c.isdigit() for c in text) >= 3
    assert sum(c in "!@" for c in text) >= 2
    assert set(text) <= set(string.digits + "!@" + string.ascii_uppercase)


def test_the_minimums_are_not_always_in_front():
    firsts = {pg.generate_password(8, [pg.special_char_class("x", 1),
                                       pg.special_char_class("y")])[0]
              for _ in range(60)}
    assert firsts == {"x", "y"}


def test_the_rest_draws_from_all_characters_equally():
    # One character class of 1 character and one of 9: Heat draws the
    # rest from the union, so "a" is about a tenth, not half.
    text = "".join(pg.generate_password(100, [
        pg.special_char_class("a"), pg.special_char_class("bcdefghij")])
        for _ in range(20))
    assert text.count("a") < 400


def test_heats_class_names_and_members():
    assert pg.CHARACTER_CLASSES == (
        "lettersdigits", "letters", "lowercase", "uppercase", "digits",
        "hexdigits", "octdigits")
    assert pg.named_char_class(pg.HEXDIGITS).allowed_chars == \
        frozenset("0123456789ABCDEF")
    with pytest.raises(ValueError, match="emoji"):
        pg.named_char_class("emoji")


def test_minimums_beyond_the_length_are_an_error():
    with pytest.raises(ValueError, match="more than the length 3"):
        pg.generate_password(3, [pg.named_char_class(pg.DIGITS, 2),
                                 pg.named_char_class(pg.LETTERS, 2)])


def test_nothing_to_choose_from_is_an_error():
    with pytest.raises(ValueError, match="no characters"):
        pg.generate_password(4, [])
    with pytest.raises(ValueError, match="no characters"):
        pg.generate_password(4, [pg.special_char_class("", 1),
                                 pg.special_char_class("ab")])
    assert pg.generate_password(0, []) == ""


def test_openstack_password():
    text = pg.generate_openstack_password()
    assert len(text) == 32
    assert any(c.islower() for c in text) and any(c.isupper() for c in text)
    assert any(c.isdigit() for c in text)
    assert any(c in "!@#%^&*" for c in text)
