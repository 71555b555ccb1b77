"""Operations tooling: monitoring stack, CI figures, dashboards as code, test-only fault injection."""
