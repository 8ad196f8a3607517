import os

from piccolo.conf.apps import AppConfig

from voice.tables import Instrument, Invitation, Response, SurveyWave, VoiceDeletion

APP_CONFIG = AppConfig(
    app_name="voice",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Instrument, SurveyWave, Invitation, Response, VoiceDeletion],
    migration_dependencies=["contracts.piccolo_app", "outcomes.piccolo_app"],
    commands=[],
)
