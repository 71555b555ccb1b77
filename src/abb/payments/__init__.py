"""Payment providers behind one interface: bank transfer (reconciled by an admin) and Stripe cards."""
