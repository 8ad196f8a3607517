"""Auditor statements and exports, assembled from the journal and the claims."""
