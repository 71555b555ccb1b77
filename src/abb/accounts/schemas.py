from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from abb.accounts.models import Role


def normalize_email(value: str) -> str:
    return value.strip().lower()


Email = Annotated[EmailStr, AfterValidator(normalize_email)]
Password = Annotated[str, Field(min_length=1, max_length=256)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegisterIn(StrictModel):
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=256)]
    full_name: Annotated[str, Field(min_length=1, max_length=120)]
    role: Literal["sme", "partner"]


class AdminCreateUserIn(RegisterIn):
    role: Literal["sme", "partner", "admin"]  # type: ignore[assignment]


class LoginIn(StrictModel):
    email: Email
    password: Password


class RefreshIn(StrictModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class PasswordChangeIn(StrictModel):
    current_password: Password
    new_password: Password


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime


class AccountStatusIn(BaseModel):
    """Why an administrator disables or enables an account (optional; kept on the account)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)
