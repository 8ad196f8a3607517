"""Open data: the reference library of outcome contracts elsewhere (INDIGO), exports in the
open standards (OCDS, INDIGO, 360Giving), publication control, and the public "what works"
figures."""
