package ttl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// configFile is the JSON layout ReadConfig accepts:
//
//	{"policies": [{"collection_group": "idempotency", "field": "expire_at"}]}
type configFile struct {
	Policies []Policy `json:"policies"`
}

// ReadConfig decodes a JSON policy file and validates its policies. Unknown keys are refused so
// that a misspelt key does not silently disable a policy.
func ReadConfig(r io.Reader) ([]Policy, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var cfg configFile
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%w: decoding the policy file: %w; expected {\"policies\": [{\"collection_group\": ..., \"field\": ...}]}", ErrInvalidPolicy, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the policy file has data after its JSON object", ErrInvalidPolicy)
	}
	if err := ValidatePolicies(cfg.Policies); err != nil {
		return nil, err
	}
	return cfg.Policies, nil
}
