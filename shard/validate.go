package shard

import (
	"fmt"
	"unicode/utf8"

	"github.com/tally-dev/tally/internal/ids"
)

// ValidateCounterID checks a counter id. A counter id becomes a Firestore document id, so it
// follows Firestore's rules: 1 to 1,500 bytes of valid UTF-8, no '/', not "." or "..", and not of
// the reserved form __.*__.
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

func checkID(field, id string) error {
	if err := ValidateCounterID(id); err != nil {
		return invalid(field, err.Error())
	}
	return nil
}

func checkKey(field, key string) error {
	if err := ValidateKey(key); err != nil {
		return invalid(field, err.Error())
	}
	return nil
}
