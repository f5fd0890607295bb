-- client.billing_health: membership billing outcomes per location and month
SELECT
  location_id AS location_id,
  month AS month_start,
  attempts AS billing_attempts,
  successes AS successful_attempts,
  declines AS declined_attempts,
  errors AS errored_attempts,
  success_rate AS billing_success_rate,
  memberships_failed AS memberships_not_collected,
  recovered AS memberships_recovered,
  recovery_rate AS recovery_rate,
  at_risk_revenue AS revenue_at_risk,
  data_complete AS data_complete
FROM gold.billing_health
