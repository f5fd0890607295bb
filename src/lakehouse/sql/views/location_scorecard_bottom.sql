-- client.location_scorecard_bottom: the lowest-scoring locations of the latest complete month
SELECT
  bottom_rank AS bottom_rank,
  location_id AS location_id,
  location_name AS location_name,
  region AS region,
  month AS month_start,
  score AS score,
  washes AS washes,
  revenue AS wash_revenue,
  avg_ticket AS average_ticket,
  member_wash_share AS member_wash_share,
  members_end AS members_at_month_end,
  churn_rate AS churn_rate,
  billing_success_rate AS billing_success_rate,
  data_complete AS data_complete
FROM gold.location_scorecard_bottom
