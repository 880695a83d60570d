"""User rows: looked up by id or e-mail, and created (an e-mail is taken at most once)."""

from __future__ import annotations

from peewee import IntegrityError

from app.persistence.db import db
from app.persistence.models import User


def user_by_id(user_id: int) -> User | None:
    return User.get_or_none(User.id == user_id)


def user_by_email(email: str) -> User | None:
    return User.get_or_none(User.email == email)


def create_user(email: str, password_hash: str) -> User | None:
    """The new user, or None when the e-mail is taken (in a savepoint: the caller's transaction lives on)."""
    try:
        with db.atomic():
            return User.create(email=email, password_hash=password_hash)
    except IntegrityError:
        return None


def all_users() -> list[User]:
    """Every user, oldest first (the operator's `user list`)."""
    return list(User.select(User.id, User.email, User.created_at, User.disabled_at).order_by(User.id))
