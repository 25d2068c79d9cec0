package ttl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tally-dev/tally/emulator/value"
	"github.com/tally-dev/tally/internal/ids"
)

// ErrInvalidPolicy marks every error about a malformed policy or policy set.
var ErrInvalidPolicy = errors.New("invalid TTL policy")

// Policy makes Field, a timestamp, the expiry time of every document in CollectionGroup (a
// collection id, matched at any depth). Field uses the field path syntax, e.g. expire_at or
// meta.`expire at`.
type Policy struct {
	CollectionGroup string `json:"collection_group"`
	Field           string `json:"field"`
}

// String formats the policy as ParsePolicy reads it.
func (p Policy) String() string { return p.CollectionGroup + "=" + p.Field }

// ParsePolicy reads "GROUP=FIELD". The collection group ends at the first '=', so a field path
// may contain '=' inside backticks while a group containing '=' needs a config file.
func ParsePolicy(s string) (Policy, error) {
	group, field, ok := strings.Cut(s, "=")
	if !ok {
		return Policy{}, fmt.Errorf("%w %q: expected GROUP=FIELD, e.g. idempotency=expire_at", ErrInvalidPolicy, s)
	}
	p := Policy{CollectionGroup: group, Field: field}
	return p, p.Validate()
}

// Validate checks that the collection group is a valid collection id and the field a valid
// field path.
func (p Policy) Validate() error {
	_, err := p.fieldPath()
	return err
}

func (p Policy) fieldPath() (value.FieldPath, error) {
	if err := ids.Validate(p.CollectionGroup, "collection group"); err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidPolicy, p.String(), err)
	}
	if p.Field == "" {
		return nil, fmt.Errorf("%w %q: the field must not be empty; expected a field path such as expire_at", ErrInvalidPolicy, p.String())
	}
	path, err := value.ParseFieldPath(p.Field)
	if err != nil {
		return nil, fmt.Errorf("%w %q: field: %w", ErrInvalidPolicy, p.String(), err)
	}
	return path, nil
}

// ValidatePolicies validates each policy and, as production allows only one TTL field per
// collection group, rejects two policies on the same group.
func ValidatePolicies(policies []Policy) error {
	_, err := compile(policies)
	return err
}

// compiledPolicy is a validated policy with its field path parsed.
type compiledPolicy struct {
	Policy
	path value.FieldPath
}

func compile(policies []Policy) ([]compiledPolicy, error) {
	out := make([]compiledPolicy, 0, len(policies))
	seen := make(map[string]Policy, len(policies))
	for i, p := range policies {
		path, err := p.fieldPath()
		if err != nil {
			return nil, fmt.Errorf("policies[%d]: %w", i, err)
		}
		if prev, dup := seen[p.CollectionGroup]; dup {
			return nil, fmt.Errorf("%w: policies %q and %q both name collection group %q; a collection group has at most one TTL field",
				ErrInvalidPolicy, prev.String(), p.String(), p.CollectionGroup)
		}
		seen[p.CollectionGroup] = p
		out = append(out, compiledPolicy{Policy: p, path: path})
	}
	return out, nil
}
