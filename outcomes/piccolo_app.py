import os

from piccolo.conf.apps import AppConfig

from outcomes.tables import (
    Claim,
    ClaimEvent,
    ContractUsage,
    IntakeBatch,
    Participant,
    SampleDraw,
)

APP_CONFIG = AppConfig(
    app_name="outcomes",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Participant, IntakeBatch, SampleDraw, Claim, ClaimEvent, ContractUsage],
    migration_dependencies=["contracts.piccolo_app"],
    commands=[],
)
