-- Agent lifecycle governance (issue 19, DESIGN section 17): the instant of the last token issued
-- to each principal, exact to the microsecond (Graph's `signInActivity`). Written by the token
-- endpoint with one UPDATE by primary key; read by the inactivity rule of lifecycle policies.
ALTER TABLE directory_objects ADD COLUMN last_token_at BIGINT;
