"""Bank transfer: the payer wires the amount quoting the deal's reference; an admin reconciles it.

References are ISO 11649 structured creditor references ("RF" + two ISO 7064 mod 97-10 check digits +
a random body), which European banks accept in the remittance field and which catch typing errors.
"""

from __future__ import annotations

import secrets
from typing import Any

from stdnum import iso11649
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

from abb.deals.models import Payment, ProviderName
from abb.deals.money import format_amount
from abb.deals.providers.base import Payable, PaymentProvider, PaymentStart, register

# Letters and digits that cannot be mistaken for one another when read aloud or retyped (no 0/O, 1/I/L).
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_BODY_LENGTH = 10


def new_reference() -> str:
    """A fresh reference such as 'RF18ABB4K7QX2M' (stored compact, shown in groups of four)."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))
    return "RF" + mod_97_10.calc_check_digits(body + "RF") + body


def normalize_reference(text: str) -> str:
    """The compact form of a typed reference; ValueError when the check digits do not match."""
    try:
        return str(iso11649.validate(text))
    except ValidationError as exc:
        raise ValueError("is not a valid payment reference (check for a typing error)") from exc


def display_reference(reference: str) -> str:
    return str(iso11649.format(reference))


@register
class BankTransferProvider(PaymentProvider):
    name = ProviderName.BANK_TRANSFER
    opens_payment = False

    def start(self, payable: Payable, payment: Payment | None) -> PaymentStart:
        assert payable.payment_reference is not None, "whatever is paid by transfer has a reference"
        outstanding = max(payable.amount_minor - payable.received_minor, 0)
        instructions: dict[str, Any] = {
            "method": self.name.value,
            "reference": display_reference(payable.payment_reference),
            "amount": format_amount(outstanding, payable.currency),
            "currency": payable.currency.value,
            "account_name": self.settings.platform_bank_account_name,
            "bank_name": self.settings.platform_bank_name,
            "iban": self.settings.platform_bank_iban,
            "bic": self.settings.platform_bank_bic,
        }
        return PaymentStart(external_id=None, instructions=instructions)
