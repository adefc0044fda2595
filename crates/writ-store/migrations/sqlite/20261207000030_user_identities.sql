-- Writ schema (issue 16): `user.identities`, the accounts of upstream identity providers a user
-- signs in with (`signInType` `federated`; the issuer's `sub` as `issuerAssignedId`). One
-- upstream account links to one user: the pair (issuer, issuer_assigned_id) is unique across the
-- directory, compared exactly (an OpenID `sub` is case-sensitive). The local password is not an
-- identity row; `position` keeps the order the collection was written in.
CREATE TABLE user_identities (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    sign_in_type TEXT NOT NULL,
    issuer TEXT NOT NULL,
    issuer_assigned_id TEXT NOT NULL,
    PRIMARY KEY (user_id, position)
);
CREATE UNIQUE INDEX user_identities_account ON user_identities (issuer, issuer_assigned_id);
