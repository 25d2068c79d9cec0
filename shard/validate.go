package shard

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tally-dev/tally/internal/ids"
)

// The rules for the arguments of Counters' methods. Each Validate function says what is wrong with a value
// but not where it came from, so that the core and the API layer (service/) apply the same rule
// and each names the argument in its own terms: the core in the argument's Go name (ArgError),
// the API in the request field's.
//
// Counters checks every argument itself, as a library must, but a caller that validated first
// never meets those checks: service/ does, so that every rejection a client sees names an API
// field.

// ValidateCounterID checks a counter id. A counter id becomes a Firestore document id, so it
// follows Firestore's rules (package ids): 1 to 1,500 bytes of valid UTF-8, no '/', not "." or
// "..", and not of the reserved form __.*__.
func ValidateCounterID(id string) error {
	return ids.Validate(id, "counter")
}

// ValidateKey checks an idempotency key: empty (no key) or at most MaxKeyBytes of valid UTF-8.
func ValidateKey(key string) error {
	switch {
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("is %d bytes, longer than the limit of %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key):
		return fmt.Errorf("must be valid UTF-8")
	}
	return nil
}

// ValidateShards checks a requested shard count: 0 (the default) or 1 to MaxShards.
func ValidateShards(n int) error {
	if n < 0 || n > MaxShards {
		return fmt.Errorf("is %d; it must be between 1 and %d, or 0 for the default", n, MaxShards)
	}
	return nil
}

// ValidatePrefix checks a List prefix: anything that could start a counter id.
func ValidatePrefix(p string) error {
	switch {
	case len(p) > ids.MaxBytes:
		return fmt.Errorf("is %d bytes, longer than the longest counter id (%d bytes)", len(p), ids.MaxBytes)
	case !utf8.ValidString(p):
		return fmt.Errorf("must be valid UTF-8")
	case strings.Contains(p, "/"):
		return fmt.Errorf("must not contain '/', which no counter id contains")
	}
	return nil
}

// PageSize is the page size List uses for a requested one: DefaultPageSize for 0, at most
// MaxPageSize. A negative size is an error.
func PageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, fmt.Errorf("is %d; it must not be negative", n)
	case n == 0:
		return DefaultPageSize, nil
	case n > MaxPageSize:
		return MaxPageSize, nil
	}
	return n, nil
}

// checkCount checks the length of a batch argument: 1 to max things.
func checkCount(arg string, n, max int, things string) error {
	if n < 1 || n > max {
		return invalid(arg, fmt.Sprintf("has %d %s; 1 to %d are allowed", n, things, max))
	}
	return nil
}

// check wraps a rule's complaint about argument arg, if any, as an ArgError.
func check(arg string, err error) error {
	if err != nil {
		return invalid(arg, err.Error())
	}
	return nil
}
