from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from kernel.accounts import passwords
from kernel.accounts.exceptions import WeakPassword
from kernel.errors import InvalidInput


def test_hash_is_argon2id_and_verifies() -> None:
    hashed = passwords.hash_password("Correct horse 9")
    assert hashed.startswith("$argon2id$")
    assert "Correct horse" not in hashed
    assert passwords.verify_password(hashed, "Correct horse 9")
    assert not passwords.verify_password(hashed, "correct horse 9")


def test_same_password_gets_a_fresh_salt() -> None:
    assert passwords.hash_password("Tender2026!") != passwords.hash_password("Tender2026!")


def test_malformed_hash_is_no_match() -> None:
    assert not passwords.verify_password("not-a-hash", "whatever123")
    assert passwords.needs_rehash("not-a-hash")


def test_needs_rehash_when_parameters_change() -> None:
    current = passwords.hash_password("Tender2026!")
    old = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("Tender2026!")
    assert not passwords.needs_rehash(current)
    assert passwords.needs_rehash(old)
    # The old hash still verifies, so login can replace it.
    assert passwords.verify_password(old, "Tender2026!")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Abc12345!", "at least 10"),
        ("abcdefghijkl", "two kinds"),
        ("ABCDEFGHIJKL", "two kinds"),
        ("123456789012", "two kinds"),
        ("!!!!!!!!!!!!", "two kinds"),
        ("招标投标电子平台密码测试", "two kinds"),
        ("x" * 257, "at most"),
    ],
)
def test_weak_passwords_are_refused(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        passwords.check_policy(password)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.status_code == 400
    assert reason in caught.value.message("en")
    assert caught.value.message("zh-CN").startswith("密码太弱")


def test_password_containing_the_username_is_refused() -> None:
    with pytest.raises(WeakPassword):
        passwords.check_policy("zhangsan-2026", username="ZhangSan")


@pytest.mark.parametrize(
    "password", ["abcdefghi1", "Tender-bidder", "招标投标平台2026", "ab cd ef gh"]
)
def test_acceptable_passwords(password: str) -> None:
    passwords.check_policy(password, username="bidder1")
