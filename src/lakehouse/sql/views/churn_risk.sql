-- client.churn_risk: each active membership's risk of cancelling within 30 days
SELECT
  membership_id AS membership_id,
  customer_id AS customer_id,
  location_id AS location_id,
  scored_on AS scored_on,
  risk_score AS churn_probability,
  risk_band AS risk_band,
  model_version AS model_version
FROM gold.churn_risk
