from __future__ import annotations

import pytest

from kernel.accounts import creditcode

# 91350100M000100Y43 is printed on a real business licence (Fuzhou); the other two are
# further codes in the published format, one with X as its organisation-code check.
REAL_CODES = ["91350100M000100Y43", "91110000600037341L", "9111000071093123XX"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert creditcode.is_valid(code)


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91350100M000100Y44", "wrong check character"),
        ("91350100M000100Y4", "17 characters"),
        ("91350100M000100Y433", "19 characters"),
        ("91350100M000I00Y43", "I is not in the alphabet"),
        ("91350100M000O00Y43", "O is not in the alphabet"),
        ("91350100m000100y43", "lower case before normalising"),
        ("", "empty"),
        ("９１３５０１００Ｍ０００１００Ｙ４３", "full width before normalising"),
    ],
)
def test_invalid_codes(code: str, why: str) -> None:
    assert not creditcode.is_valid(code), why


def test_every_single_character_change_is_caught() -> None:
    code = REAL_CODES[0]
    for position in range(18):
        for char in creditcode.ALPHABET:
            if char != code[position]:
                changed = code[:position] + char + code[position + 1 :]
                assert not creditcode.is_valid(changed), changed


def test_check_character_31_maps_to_zero() -> None:
    # A body whose weighted sum is a multiple of 31 has check 31 - 0 = 31, written "0".
    assert creditcode.check_char("0" * 17) == "0"
    assert creditcode.is_valid("0" * 18)


def test_normalise_folds_width_case_and_spaces() -> None:
    assert creditcode.normalise(" ９１３５０１００ｍ０００１００ｙ４３\n") == REAL_CODES[0]
    assert creditcode.is_valid(creditcode.normalise("91350100m000100y43"))


def test_make_code_is_valid_and_deterministic() -> None:
    codes = {creditcode.make_code(f"company {n}") for n in range(200)}
    assert len(codes) == 200
    assert all(creditcode.is_valid(code) for code in codes)
    assert creditcode.make_code("company 1") == creditcode.make_code("company 1")
