-- client.churn_retention: members gained, lost and kept per location and month
SELECT
  location_id AS location_id,
  month AS month_start,
  members_start AS members_at_month_start,
  new_members AS new_members,
  churned_members AS cancelled_members,
  members_end AS members_at_month_end,
  churn_rate AS churn_rate,
  retention_rate AS retention_rate,
  data_complete AS data_complete
FROM gold.churn_retention
