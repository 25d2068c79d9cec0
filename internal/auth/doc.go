// Package auth authenticates and authorises calls to tallyd's gRPC API.
//
// A caller proves who it is with a bearer token (metadata x-tally-token, or authorization:
// Bearer) or with a client certificate verified against the server's client CA. A policy file
// (Load) maps each token's SHA-256 hash, or a certificate identity, to a principal: an id, the
// counter-id prefixes it may touch and its permissions (read, write, admin). Only hashes are
// stored, so the file is not a secret, and a leaked copy of it grants nothing.
//
// Auth's interceptors refuse a call before its handler runs: UNAUTHENTICATED without valid
// credentials, PERMISSION_DENIED when the method needs a permission the principal lacks or a
// counter named in the request lies outside its prefixes. Every name of a batch is checked
// before the handler runs, so a refused batch applies nothing. ListCounters lists only
// counters within the principal's prefixes (list.go). Health checking and reflection stay open.
//
// The policy file is JSON:
//
//	{"principals": [
//	  {"id": "web-backend", "token_sha256": "<64 lowercase hex digits>",
//	   "prefixes": ["web-"], "permissions": ["read", "write"]},
//	  {"id": "ops", "cert_identity": "ops.tally.internal",
//	   "prefixes": [""], "permissions": ["read", "write", "admin"]}
//	]}
//
// Each principal has a unique id; token_sha256 (the SHA-256 of its token, HashToken),
// cert_identity (matched against a verified client certificate's Subject CN and DNS and URI
// SANs), or both; a non-empty list of counter-id prefixes ("" for every counter; counter ids
// hold no '/', so neither may a prefix); and a non-empty subset of read, write and admin, which
// are independent: admin implies neither write nor read. Names are exact, unknown fields are
// errors, and so are duplicate ids, tokens and certificate identities.
//
// The policy is swapped atomically on Reload or when Watch sees the file change, so calls in
// flight keep the policy they started with; a file that fails to load leaves the old policy in
// force. Admin operations are logged as audit lines, whether or not auth is on.
package auth
