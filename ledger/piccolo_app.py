import os

from piccolo.conf.apps import AppConfig

from ledger.tables import (
    Account,
    Checkpoint,
    JournalEntry,
    JournalFormat,
    JournalNote,
    Posting,
)

APP_CONFIG = AppConfig(
    app_name="ledger",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Account, JournalEntry, JournalFormat, Posting, Checkpoint, JournalNote],
    migration_dependencies=["contracts.piccolo_app"],
    commands=[],
)
