// Package value implements Firestore's value semantics: ordering, equality, field paths, transforms and sizes.
package value
