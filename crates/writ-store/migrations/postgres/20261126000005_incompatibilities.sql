-- Writ schema, version 5: separation of duties. A package is incompatible with other packages
-- (whose holders may not get it) and with groups (whose members may not get it).

CREATE TABLE package_incompatible_packages (
    package_id TEXT NOT NULL REFERENCES access_packages (id) ON DELETE CASCADE,
    other_package_id TEXT NOT NULL REFERENCES access_packages (id) ON DELETE CASCADE,
    PRIMARY KEY (package_id, other_package_id)
);
CREATE INDEX package_incompatible_packages_other ON package_incompatible_packages (other_package_id);

CREATE TABLE package_incompatible_groups (
    package_id TEXT NOT NULL REFERENCES access_packages (id) ON DELETE CASCADE,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (package_id, group_id)
);
