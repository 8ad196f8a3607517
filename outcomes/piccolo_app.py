import os

from piccolo.conf.apps import AppConfig

from outcomes.tables import (
    Claim,
    ClaimEvent,
    CohortEvaluation,
    ContractUsage,
    IntakeBatch,
    Participant,
    PaymentRun,
    PaymentRunLine,
    SampleDraw,
)

APP_CONFIG = AppConfig(
    app_name="outcomes",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Participant, IntakeBatch, SampleDraw, Claim, ClaimEvent, ContractUsage,
                   PaymentRun, PaymentRunLine, CohortEvaluation],
    migration_dependencies=["contracts.piccolo_app", "ledger.piccolo_app"],
    commands=[],
)
