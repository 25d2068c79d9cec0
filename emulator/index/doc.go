// Package index decides, with production Firestore's rules, whether the indexes a database
// declares serve a query. The declaration is a firestore.indexes.json file in the Firebase CLI's
// format: composite indexes ("indexes") and single-field index overrides ("fieldOverrides").
// Every field not overridden has the automatic single-field indexes: ascending, descending and
// array-contains, in collection scope only.
//
// A query that no index serves gets a FAILED_PRECONDITION status naming the index to add, in
// the file's own format, so that a test against the emulator fails where production would.
package index
