import os

from piccolo.conf.apps import AppConfig

from contracts.tables import (
    AdviceDecision,
    ApiKey,
    AppUser,
    Contract,
    ContractAcceptance,
    ContractEvent,
    ContractParty,
    ContractProposal,
    ContractVersion,
    LoginAttempt,
    Metric,
    Organisation,
    WebSession,
)

APP_CONFIG = AppConfig(
    app_name="contracts",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        Organisation,
        AppUser,
        ApiKey,
        Metric,
        Contract,
        ContractVersion,
        ContractParty,
        ContractEvent,
        ContractProposal,
        ContractAcceptance,
        WebSession,
        LoginAttempt,
        AdviceDecision,
    ],
    migration_dependencies=[],
    commands=[],
)
