-- 0012_manager: a manager works the alert inbox (and, later, the
-- dashboard) without the live floor's powers over interviewers.
ALTER TABLE app_user DROP CONSTRAINT app_user_role_check;
ALTER TABLE app_user ADD CONSTRAINT app_user_role_check CHECK (role IN ('admin', 'supervisor', 'interviewer', 'manager'));
