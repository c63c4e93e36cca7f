// Rollout
