from __future__ import annotations

import pytest

from tests.stewardship.hub import Hub, make_users


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Django's default hasher costs ~0.3 s per user on purpose; tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def users(db):
    return make_users()


@pytest.fixture
def hub(customer_type, sources):
    return Hub(customer_type, sources)


@pytest.fixture
def login(client, users):
    """``login("steward")`` signs the test client in with that role and returns it."""

    def sign_in(role: str):
        client.force_login(users[role])
        return client

    return sign_in
