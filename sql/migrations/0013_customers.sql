-- 0013_customers: a customer's surveys in order (the previous score for
-- churn-risk alerts, the score history).
CREATE INDEX interview_customer ON interview ((context->>'customer_id'), started_at) WHERE context ? 'customer_id';
