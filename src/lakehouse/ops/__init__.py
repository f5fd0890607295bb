"""Operations: source freshness and export coverage, health checks and alerts, the HTML health report."""
