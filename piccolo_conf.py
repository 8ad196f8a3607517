"""Piccolo's configuration. The engine comes from VIRKER_DATABASE_URL (./var/virker.sqlite)."""

from piccolo.conf.apps import AppRegistry

from core.database import make_engine
from core.settings import get_settings

DB = make_engine(get_settings().database_url)

APP_REGISTRY = AppRegistry(
    apps=[
        "contracts.piccolo_app",
        "outcomes.piccolo_app",
        "ledger.piccolo_app",
        "voice.piccolo_app",
        "opendata.piccolo_app",
    ]
)
