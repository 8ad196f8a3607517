"""The Litestar application: settings, authentication, error mapping, routes and the CLI.

Only this package knows about HTTP. Services below it raise domain errors
(`contracts.errors`), which `api.errors` maps to RFC 9457 problem+json once.
"""
