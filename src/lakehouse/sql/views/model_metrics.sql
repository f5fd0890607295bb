-- client.model_metrics: every trained churn-risk model and how well it ranks members on later data
SELECT
  model_version AS model_version,
  trained_at AS trained_at,
  algorithm AS algorithm,
  train_rows AS training_rows,
  test_rows AS test_rows,
  train_from AS training_snapshots_from,
  train_to AS training_snapshots_to,
  test_from AS test_snapshots_from,
  test_to AS test_snapshots_to,
  label_horizon_days AS label_horizon_days,
  ARRAY_JOIN(features, ', ') AS features,
  roc_auc AS test_roc_auc
FROM gold.model_metrics
