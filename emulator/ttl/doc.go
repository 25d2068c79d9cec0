// Package ttl deletes documents whose time-to-live field has passed, as Firestore TTL policies do.
package ttl
