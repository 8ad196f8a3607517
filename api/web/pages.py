"""Every route of the web UI, for `api.app.create_app`."""

from __future__ import annotations

from litestar.handlers import BaseRouteHandler

from api.web import account
from api.web import admin as admin_pages
from api.web import audit as audit_pages
from api.web import claims as claim_pages
from api.web import compare as compare_pages
from api.web import contracts as contract_pages
from api.web import designer as designer_pages
from api.web import payments as payment_pages
from api.web import provider as provider_pages
from api.web import public as public_pages
from api.web import publication as publication_pages
from api.web import queue as queue_pages
from api.web import submissions as submission_pages
from api.web import surveys as survey_pages
from api.web import voice as voice_pages


def route_handlers() -> list[BaseRouteHandler]:
    return [account.choose_language, *contract_pages.ROUTES, *designer_pages.ROUTES,
            *submission_pages.ROUTES, *compare_pages.ROUTES, *audit_pages.ROUTES,
            *provider_pages.ROUTES, *admin_pages.ROUTES, *voice_pages.ROUTES,
            *survey_pages.ROUTES, *public_pages.ROUTES, *publication_pages.ROUTES,
            queue_pages.queue_page, queue_pages.confirm_bulk, queue_pages.bulk_verify,
            queue_pages.bulk_approve,
            claim_pages.claim_page, claim_pages.verify_claim, claim_pages.dispute_claim,
            claim_pages.approve_claim,
            payment_pages.runs_page, payment_pages.choose_contract, payment_pages.run_page,
            payment_pages.approve_run, payment_pages.pay_run, payment_pages.remittance,
            payment_pages.draft_page, payment_pages.draft_run]
