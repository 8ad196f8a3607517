import os

from piccolo.conf.apps import AppConfig

from opendata.tables import (
    ExchangeRate,
    Publication,
    ReferenceImport,
    ReferenceMetric,
    ReferencePrice,
    ReferenceProject,
)

APP_CONFIG = AppConfig(
    app_name="opendata",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[ReferenceProject, ReferenceMetric, ReferencePrice, ReferenceImport,
                   ExchangeRate, Publication],
    migration_dependencies=["contracts.piccolo_app", "voice.piccolo_app"],
    commands=[],
)
