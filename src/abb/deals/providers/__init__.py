"""Payment providers behind one interface (`base`): bank transfer (reconciled by an admin) and Stripe cards.

Importing the package registers both adapters; `base.provider_for(name, settings)` picks one.
"""

from abb.deals.providers import bank_transfer, stripe_card
from abb.deals.providers.base import PaymentAttemptFailed, PaymentProvider, PaymentStart, provider_for

__all__ = ["PaymentAttemptFailed", "PaymentProvider", "PaymentStart", "bank_transfer", "provider_for", "stripe_card"]
