-- client.location_scorecard: one scorecard row per location and month
SELECT
  location_id AS location_id,
  location_name AS location_name,
  region AS region,
  month AS month_start,
  washes AS washes,
  revenue AS wash_revenue,
  avg_ticket AS average_ticket,
  member_wash_share AS member_wash_share,
  members_end AS members_at_month_end,
  churn_rate AS churn_rate,
  billing_success_rate AS billing_success_rate,
  score AS score,
  data_complete AS data_complete
FROM gold.location_scorecard
