"""Every reason code Virker can emit, in one registry, each with what it means.

A code is what a client relies on: the `code` of a problem+json answer, of a `{code, field,
message}` problem in it, or of a rejected row in a batch's validation report. Each code here
has a section with a worked example in docs/payment-rules.md, and the docs document nothing
else; tests/unit/test_reasons.py holds the registry, the source code and the docs together
(a code written in the source must be here, a code here must be in the source and the docs).

Pure data: no I/O. To add a code, add it here with its meaning and give it an example in
docs/payment-rules.md, under the heading of its group.
"""

from __future__ import annotations

# Group (the docs' heading) → {code: what it means}.
GROUPS: dict[str, dict[str, str]] = {
    "Claims": {
        "not_on_rate_card": "the claimed metric is not on the contract's rate card",
        "after_claims_deadline": "the claim arrives after the contract's claims deadline",
        "achieved_in_future": "the outcome is dated after today",
        "after_service_period": "the outcome was achieved after the service period ended",
        "not_enrolled": "no participant with this pseudonym is enrolled on the contract",
        "outside_window": "achieved before enrolment or outside the line's window",
        "prerequisite_missing": "the line needs another outcome first, and there is none",
        "duration_not_met": "a duration outcome claimed before the duration has passed",
        "value_required": "a score outcome without the measured change",
        "value_not_applicable": "a value on an outcome that is not a score",
        "below_threshold": "the score did not move by the threshold in the intended direction",
        "duplicate": "the same outcome on the same day is already claimed for the participant",
        "max_claims_reached": "the line already paid its maximum for the participant",
        "exclusive_conflict": "the participant is paid for another line of the same "
                              "exclusivity group",
        "participant_cap_reached": "the participant would pass the per-participant cap",
        "line_cap_reached": "the line's maximum count or amount would be passed",
        "cap_reached": "the contract's cap would be passed (at intake, at approval or by a "
                       "cohort evaluation)",
        "cohort_line_not_claimable": "a claim for a metric paid only by a cohort line, which "
                                     "its evaluation pays, not claims",
        "client_ref_conflict": "the client_ref was used before for a different claim",
        "invalid_field": "a row or field does not decode: wrong type, impossible date, …",
        "unknown_field": "a JSON request body carries a field Virker does not take",
    },
    "Participants": {
        "personal_identifier": "a value looks like a CPR number, fødselsnummer or NI number",
        "invalid_pseudonym": "a pseudonym that is not a single token (a name, an e-mail)",
        "enrolment_outside_period": "the enrolment date lies outside the enrolment period",
        "enrolment_conflict": "the participant is enrolled already, on another date",
        "participant_conflict": "the participant is enrolled already, with other dimensions "
                                "or by another provider of the partnership",
    },
    "Batches": {
        "idempotency_key_required": "a batch of claims or of recorded answers without "
                                    "an Idempotency-Key header",
        "idempotency_key_reused": "the Idempotency-Key was used for a different request",
        "invalid_idempotency_key": "the Idempotency-Key is too long or not printable",
        "contract_not_active": "the contract takes submissions only while active",
        "not_an_array": "a JSON batch that is not an array of rows",
        "empty_batch": "a batch without rows",
        "too_many_rows": "more than 10,000 rows in one batch",
        "unknown_columns": "a batch (CSV header or JSON rows) names fields Virker does not take",
        "unknown_column": "one unknown column of a CSV header",
        "missing_columns": "a CSV header lacks required columns",
        "missing_column": "one missing column of a CSV header",
        "duplicate_columns": "a CSV header names a column twice",
        "duplicate_column": "one column a CSV header names twice",
        "invalid_csv": "the CSV cannot be read (an unclosed quote, …)",
        "invalid_encoding": "the body is not UTF-8",
        "invalid_json": "the body is not JSON Virker can decode",
        "invalid_character": "a NUL character in a value",
        "batch_not_found": "no such batch, or not one the caller may see",
    },
    "Verification and approval": {
        "nothing_to_sample": "no accepted claims are waiting for a verification draw",
        "invalid_transition": "the claim, contract or payment run cannot take that step from "
                              "where it is",
        "not_approvable": "some claims of an approval cannot be approved; none were",
        "unknown_claim": "an approval names a claim that is not on the contract",
        "not_yet_sampled": "an approval names a claim that has not been through a draw",
        "not_verified": "an approval names a claim sampled and not yet verified",
        "claim_not_found": "no such claim, or not one the caller may see",
        "concurrent_change": "the row changed at the same time; try again",
    },
    "Payment runs and clawbacks": {
        "nothing_to_pay": "no approved, unpaid claims achieved in the run's period",
        "run_not_approved": "a payment run is paid only once approved",
        "same_person": "the person or API key that drafted a payment run approving it, "
                       "which the organisation does not allow (maker-checker)",
        "not_accrued": "a claim in the run has no accrual in the journal",
        "in_payment_run": "a clawback of a claim waiting in an unpaid payment run",
        "payment_run_not_found": "no such payment run, or not one the caller may see",
        "run_not_paid": "a remittance is made once the run is paid",
        "entry_unbalanced": "a journal entry whose postings do not sum to zero (a bug)",
    },
    "Statements": {
        "invalid_period": "a statement period that is inverted, too long or out of range",
        "period_in_future": "a statement period that ends after today",
        "rendering_failed": "the document could not be rendered; try again",
        "shutting_down": "the server stopped while rendering; try again",
    },
    "Contract terms": {
        "invalid_terms": "the contract terms break rules; each problem says which",
        "period_inverted": "a period ends before it starts",
        "enrolment_outside_service": "the enrolment period is not within the service period",
        "deadline_before_service_end": "the claims deadline is before the service period ends",
        "unknown_currency": "a currency Virker does not pay in",
        "currency_mismatch": "an amount in another currency than the contract's",
        "participant_cap_above_cap": "the per-participant cap exceeds the contract cap",
        "commissioner_required": "terms without a commissioner",
        "duplicate_party": "a commissioner, auditor or partner named twice",
        "shares_not_100": "the commissioners' shares do not sum to 100 %",
        "duplicate_line": "two rate card lines with one code",
        "price_zero": "a rate card line that pays nothing",
        "line_max_below_price": "a line's maximum amount below the price of one outcome",
        "invalid_count": "a line's max_count below 1",
        "unknown_metric": "a rate card line for a metric not in the library",
        "window_inverted": "a window that ends before it starts",
        "window_needs_prerequisite": "a window counted from a prerequisite that is not set",
        "prerequisite_self": "a metric that is its own prerequisite",
        "prerequisite_not_on_rate_card": "a prerequisite that is not on the rate card",
        "threshold_required": "a score line without its threshold",
        "threshold_not_positive": "a threshold of zero or less",
        "threshold_not_applicable": "a threshold on a line that is not a score",
        "target_above_max_count": "a line that expects more to achieve than it pays for",
        "baseline_n_required": "a comparison group's baseline without the group's size n",
        "cohort_terms_missing": "a cohort line without its cohort, evaluation date or "
                                "threshold",
        "cohort_term_on_outcome_line": "a cohort, evaluation date or cohort threshold on an "
                                       "outcome line",
        "not_for_cohort_line": "a window, prerequisite, exclusivity group, threshold or "
                               "more than one claim per participant on a cohort line",
        "evaluation_outside_service": "a cohort evaluated outside the service period",
        "evaluation_after_deadline": "a cohort evaluated after the claims deadline",
        "cohort_metric_not_claimable": "a cohort line whose metric no outcome line takes "
                                       "claims for",
        "partner_conflict": "a partner that is also a commissioner or auditor",
        "split_required": "a partner without its split when the contract pays by split",
        "split_not_applicable": "a partner's split when the contract pays by claimant",
        "splits_above_100": "partners' splits that sum to more than 100 %",
        "rate_card_empty": "activating a contract without a rate card",
        "cap_zero": "activating a contract with a cap of zero",
        "unknown_organisation": "a party that is not a registered organisation",
        "not_a_provider": "a provider that is not of a kind that delivers contracts",
        "partner_is_lead": "the lead provider named among its own partners",
        "creator_not_commissioner": "a commissioner leaving itself off the terms",
        "reference_taken": "a contract reference already in use",
        "invalid_date": "a date outside the years Virker takes (1900–2200)",
        "contract_not_found": "no such contract, or not one the caller may see",
    },
    "Consent and variations": {
        "acceptance_missing": "a commissioner has not accepted the terms being activated",
        "contract_not_draft": "a draft's acceptance given for a contract that is no draft",
        "version_changed": "an acceptance of a version that is no longer the draft's",
        "contract_closed": "a closed contract cannot be varied",
        "effective_in_past": "a variation dated before today",
        "effective_in_paid_period": "a variation dated within a period already paid",
        "cap_below_accrued": "a cap varied below what is already accrued",
        "not_affected": "an acceptance by a party the variation does not need",
        "admin_cannot_accept": "an administrator accepting for a commissioner",
        "proposal_outdated": "the contract was varied since the proposal was made",
        "proposal_closed": "the proposal is applied, withdrawn or superseded",
        "proposer_only": "a withdrawal by another organisation than the proposer",
        "proposal_not_found": "no such proposal, or not one the caller may see",
    },
    "Cohort evaluations": {
        "line_not_found": "no rate card line with this code on the contract",
        "not_a_cohort_line": "an evaluation asked of a line that is not a cohort line",
        "cohort_not_due": "a cohort evaluated before its evaluation date",
    },
    "Effect and advice": {
        "subject_not_found": "a comparison or advice asked for something that is neither a "
                             "metric code nor a category of the metric library",
        "advice_not_found": "a decision on advice for a contract the advice does not cover",
        "justification_required": "an override of advice without a written justification",
        "confirmation_required": "an irreversible step in the web UI asked for without "
                                 "ticking its confirmation",
        "not_your_organisation": "a portfolio asked of another organisation than the caller's",
    },
    "Citizen voice": {
        "instrument_exists": "an instrument code Virker ships, or one the organisation has "
                             "already added",
        "reserved_item_code": "an item code that names a column of a batch of answers",
        "invalid_scale": "an item whose highest answer is not above its lowest",
        "duplicate_item": "two items of one instrument with the same code",
        "instrument_not_found": "no instrument with this code that the caller may use",
        "wave_dates": "a survey wave that closes before it opens",
        "days_required": "a wave asked days after enrolment without saying how many days",
        "days_not_allowed": "days given for a wave at enrolment or at exit",
        "wave_not_found": "no such survey wave, or not one the caller may see",
        "wave_not_open": "links asked for a wave that is not open today",
        "duplicate_pseudonym": "the same pseudonym twice in one request for links",
        "participant_not_found": "no participant of the caller's has this pseudonym on the "
                                 "contract",
        "not_yet_enrolled": "a link asked for a participant enrolled after today",
        "not_yet_due": "a link asked before the wave's days after enrolment have passed",
        "invitation_not_found": "a link Virker never gave",
        "invitation_used": "a link that has already taken its one answer",
        "invitation_expired": "a link past its expiry or its wave's close",
        "unknown_item": "an answer to a question the instrument does not have",
        "answer_out_of_range": "an answer outside its question's scale, or not a whole number",
        "no_answers": "an answer that answers no question",
        "already_answered": "a second answer under the same pseudonym in one wave",
        "anonymous_with_pseudonym": "a recorded answer marked anonymous that names a pseudonym",
        "pseudonym_required": "a recorded answer neither anonymous nor under a pseudonym",
        "outside_wave": "a recorded answer dated outside its wave or in the future",
        "comment_not_found": "no such comment, or not one the caller may moderate",
        "commissioner_or_provider_only": "a deletion of answers asked by an auditor",
    },
    "Forms in the web UI": {
        "required": "a form field left empty that must be filled in",
        "too_long": "a form field longer than it may be",
        "too_many": "more lines in a form field than one request takes",
    },
    "Open data": {
        "unknown_part": "a publication decision for a part of a contract Virker does not "
                        "publish",
        "not_published": "an export of a contract whose `contract` part is private, asked "
                         "without include=private (or by the command line)",
        "nothing_published": "an open-data export asked before any contract is published",
        "no_grants": "a 360Giving export of contracts none of whose commissioners is a fund "
                     "paying grants",
        "reference_project_not_found": "no reference project with this code",
        "currency_required": "a price range searched for without the currency it is in",
        "price_range_inverted": "a price range whose lowest price is above its highest",
        "no_exchange_rate": "a draft from a reference project priced in a currency with no "
                            "exchange rate to the contract's on record",
        "unknown_reference_metric": "a metric_map naming a metric the reference project "
                                    "does not have",
        "invalid_reference_draft": "a draft from a reference project refused for several "
                                   "reasons, each in `errors`",
        "invalid_rates_file": "an exchange-rate file that is not the ECB's reference-rate "
                              "CSV",
    },
    "Metric library": {
        "invalid_metric": "a metric that breaks the library's rules",
        "duration_required": "a duration metric without duration_days",
        "duration_not_applicable": "duration_days on a metric that is not a duration",
        "metric_code_taken": "a metric code already in the library",
        "metric_not_found": "no metric with this code",
        "role_not_allowed": "a role that may not extend the library",
    },
    "Access": {
        "unauthenticated": "no credentials",
        "invalid_authorization": "an Authorization header that is not a bearer key",
        "invalid_api_key": "an API key that is unknown or revoked",
        "invalid_credentials": "a wrong e-mail address or password",
        "too_many_attempts": "too many failed sign-ins; wait before trying again",
        "no_session": "a session-only action asked with an API key",
        "forbidden": "the caller may see this but not do it",
        "read_only": "auditors write nothing",
        "commissioner_only": "only the contract's commissioners may do this",
        "provider_only": "only the contract's provider may do this",
        "auditor_only": "only auditors may do this",
        "admin_only": "only administrators may do this",
        "other_organisation": "an API key for another organisation",
        "role_escalation": "an API key with a role above the caller's",
        "organisation_required": "an administrator's request that names no organisation",
        "identifier_taken": "an organisation identifier already registered",
        "email_taken": "a user e-mail address already registered",
        "wrong_password": "the current password given is wrong",
        "password_unchanged": "a new password that is the current one",
        "weak_password": "a password too easy to guess",
        "organisation_not_found": "no such organisation, or not one the caller may see",
        "user_not_found": "no such user",
        "api_key_not_found": "no such API key",
        "invalid_cursor": "a cursor that Virker did not give out",
    },
    "Any request": {
        "validation_error": "a body, path or query that does not decode; each problem says "
                            "where",
        "malformed_request": "a request that cannot be read at all",
        "invalid": "a rule is broken (a refusal without a code of its own)",
        "not_found": "no such resource",
        "gone": "a link or thing that existed and can no longer be used (HTTP 410)",
        "conflict": "the request clashes with what is recorded",
        "unavailable": "could not be done now; the same request may succeed later",
        "domain_error": "a refusal without a code of its own (a bug)",
        "method_not_allowed": "the path does not take this HTTP method",
        "not_acceptable": "the response cannot be given in the media type asked for",
        "unsupported_media_type": "a body in a media type the endpoint does not take",
        "payload_too_large": "a body above the endpoint's size limit",
        "too_many_requests": "too many requests; wait before trying again",
        "client_error": "another 4xx refusal from the web framework",
        "database_unavailable": "the database cannot be reached just now",
        "internal_error": "something went wrong on Virker's side (a bug)",
    },
}

REASONS: dict[str, str] = {code: meaning for group in GROUPS.values()
                           for code, meaning in group.items()}


def is_known(code: str) -> bool:
    return code in REASONS
