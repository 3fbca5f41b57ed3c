import CostModel
import Foundation
import GRDB
import GRDBSQLite
import Logging
import Synchronization

/// The schema: every table and migration in order (docs/storage.md describes the tables).
extension Store {
    package static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: snapshots, resources, resource states, daily costs") { db in
            try db.execute(sql: """
                CREATE TABLE sync_snapshots (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    started_at DOUBLE NOT NULL,
                    finished_at DOUBLE NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
                    error TEXT,
                    created INTEGER NOT NULL DEFAULT 0,
                    updated INTEGER NOT NULL DEFAULT 0,
                    deleted INTEGER NOT NULL DEFAULT 0,
                    unchanged INTEGER NOT NULL DEFAULT 0,
                    extras TEXT
                );
                CREATE INDEX sync_snapshots_by_source ON sync_snapshots (source, status, id);
                CREATE TABLE resources (
                    source TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    name TEXT NOT NULL,
                    resource_type TEXT NOT NULL,
                    first_seen_snapshot INTEGER NOT NULL,
                    last_seen_snapshot INTEGER NOT NULL,
                    deleted_in_snapshot INTEGER,
                    state TEXT,
                    PRIMARY KEY (source, resource_id)
                );
                CREATE TABLE resource_states (
                    snapshot_id INTEGER NOT NULL REFERENCES sync_snapshots (id) ON DELETE CASCADE,
                    resource_id TEXT NOT NULL,
                    action TEXT NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'unchanged')),
                    cost_changed BOOLEAN NOT NULL,
                    status_changed BOOLEAN NOT NULL,
                    config_changed BOOLEAN NOT NULL,
                    changed_fields TEXT NOT NULL,
                    cost_per_hour TEXT,
                    currency TEXT,
                    previous_state TEXT,
                    current_state TEXT,
                    PRIMARY KEY (snapshot_id, resource_id)
                );
                CREATE TABLE daily_costs (
                    source TEXT NOT NULL,
                    day TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    account TEXT NOT NULL,
                    service TEXT NOT NULL,
                    category TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    amount TEXT NOT NULL,
                    PRIMARY KEY (source, day, resource_id, service, currency)
                );
                """)
        }
        migrator.registerMigration("v2: exchange rates") { db in
            try db.execute(sql: """
                CREATE TABLE fx_rates (currency TEXT PRIMARY KEY, rate TEXT NOT NULL, fetched_at DOUBLE NOT NULL)
                """)
        }
        migrator.registerMigration("v3: usage values and their daily totals") { db in
            try db.execute(sql: """
                CREATE TABLE usage_values (
                    source TEXT NOT NULL, dimension TEXT NOT NULL, tenant TEXT NOT NULL,
                    value DOUBLE NOT NULL, fetched_at DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, tenant)
                );
                CREATE TABLE usage_daily (
                    source TEXT NOT NULL, dimension TEXT NOT NULL, day TEXT NOT NULL, value DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, day)
                );
                """)
        }
        migrator.registerMigration("v4: money in micro-units, per-resource and per-scope daily history, resources by column") { db in
            try StoreMigrationV4.migrate(db)
        }
        migrator.registerMigration("v5: the project of a resource (Selectel cloud projects)") { db in
            try db.execute(sql: "ALTER TABLE resources ADD COLUMN project TEXT NOT NULL DEFAULT ''")
        }
        migrator.registerMigration("v6: exchange rates per day they are published for") { db in
            // The rates an older version kept are the only ones known: they become the
            // publication of the (UTC) day they were fetched on.
            try db.execute(sql: """
                CREATE TABLE fx_daily (day INTEGER NOT NULL, currency TEXT NOT NULL, rate TEXT NOT NULL, PRIMARY KEY (day, currency));
                INSERT INTO fx_daily (day, currency, rate) SELECT CAST(fetched_at / 86400 AS INTEGER), currency, rate FROM fx_rates;
                """)
        }
        migrator.registerMigration("v7: each source's resources packed in one row; cost lines found by source") { db in
            try StoreMigrationV7.migrate(db)
        }
        migrator.registerMigration("v8: each source's cost lines packed in one row") { db in
            try StoreMigrationV8.migrate(db)
        }
        migrator.registerMigration("v9: usage values per tenant and day") { db in
            // The values an older version kept are the only ones known: they become those of
            // the (UTC) day they were polled on.
            try db.execute(sql: """
                CREATE TABLE usage_tenant_daily (
                    source TEXT NOT NULL, dimension TEXT NOT NULL, day INTEGER NOT NULL, tenant TEXT NOT NULL, value DOUBLE NOT NULL,
                    PRIMARY KEY (source, dimension, day, tenant)
                );
                INSERT INTO usage_tenant_daily (source, dimension, day, tenant, value)
                    SELECT source, dimension, CAST(fetched_at / 86400 AS INTEGER), tenant, value FROM usage_values WHERE tenant <> '';
                """)
        }
        migrator.registerMigration("v10: effective (amortised) cost per scope and day") { db in
            // Filled by the next sync of each FOCUS source; none before it.
            try db.execute(sql: """
                CREATE TABLE effective_daily (
                    source TEXT NOT NULL, day INTEGER NOT NULL, provider TEXT NOT NULL, account TEXT NOT NULL, service TEXT NOT NULL,
                    category TEXT NOT NULL, currency TEXT NOT NULL, micros INTEGER NOT NULL,
                    PRIMARY KEY (source, day, provider, account, service, category, currency)
                ) WITHOUT ROWID
                """)
        }
        return migrator
    }
}
