"""The engine's durable store and workflows: SQLite by default, PostgreSQL in production.

Start-up, in this order (see docs/adr/004-durable-engine-store.md):

    journal = await open_journal(database_url)            # migrates; OPENSQT_DATABASE_URL when None
    journal.claim(strategy_id)                            # one engine per strategy (StrategyBusyError)
    workflows = EngineWorkflows(strategy_id=..., symbol=..., journal=journal, venue=venue)
    app = await DurableApp.launch(journal.location, executor_id=executor_id_for(strategy_id))
    snapshot = await journal.load_snapshot(strategy_id)   # + journal.max_generation(strategy_id)
    report = await workflows.recover(boot_id)             # GetOrder for every open intent
    ...feed report.settled into the core, start order_lifecycle for report.deferred...

Hot path: ``await journal.record_intent(intent)`` then send, then
``workflows.start_order_lifecycle(client_order_id)`` in a background task.
Shutdown: ``await workflows.shutdown(boot_id)``, save the snapshot, ``await app.close()``,
``await journal.close()``.
"""

from __future__ import annotations

from .dbos_app import DBOS_APP_NAME, DurableAlreadyLaunchedError, DurableApp, dbos_config, executor_id_for
from .decisions import ReconcilePlan, Settlement, Verdict, adopt, outcome_for_status, plan_reconcile, settle
from .lease import StrategyBusyError, claim_strategy
from .location import DEFAULT_DATABASE_URL, StoreKind, StoreLocation, StoreUrlError, locate_store
from .migrations import MIGRATIONS, Migration, MigrationError, MigrationReport, migrate, schema_version
from .store import OutcomeEntry, OutcomeState, SqlJournal, open_journal, open_journal_blocking, prepare_store
from .venue import VenueOrders, VenueOrderView
from .workflows import (
    EngineWorkflows,
    ReconcileReport,
    RecoveryReport,
    SettlementJournal,
    ShutdownReport,
)

__all__ = [
    "DBOS_APP_NAME",
    "DEFAULT_DATABASE_URL",
    "MIGRATIONS",
    "DurableAlreadyLaunchedError",
    "DurableApp",
    "EngineWorkflows",
    "Migration",
    "MigrationError",
    "MigrationReport",
    "OutcomeEntry",
    "OutcomeState",
    "ReconcilePlan",
    "ReconcileReport",
    "RecoveryReport",
    "Settlement",
    "SettlementJournal",
    "ShutdownReport",
    "SqlJournal",
    "StoreKind",
    "StoreLocation",
    "StoreUrlError",
    "StrategyBusyError",
    "VenueOrderView",
    "VenueOrders",
    "Verdict",
    "adopt",
    "claim_strategy",
    "dbos_config",
    "executor_id_for",
    "locate_store",
    "migrate",
    "open_journal",
    "open_journal_blocking",
    "outcome_for_status",
    "plan_reconcile",
    "prepare_store",
    "schema_version",
    "settle",
]
