package ttl

import (
	"slices"
	"strings"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/tally-dev/tally/emulator/storage"
	"github.com/tally-dev/tally/emulator/value"
)

// StorageExpiry is the expiry index a Sweeper with these policies needs from storage: pass it
// as storage.Options.Expiry. It is nil when there are no policies.
func StorageExpiry(policies []Policy) (*storage.Expiry, error) {
	compiled, err := compile(policies)
	if err != nil || len(compiled) == 0 {
		return nil, err
	}
	byGroup := groupPolicies(compiled)
	return &storage.Expiry{
		Config: indexConfig(compiled),
		Of: func(path []string, fields map[string]*pb.Value) (int64, bool) {
			p, ok := byGroup[collectionOf(path)]
			if !ok {
				return 0, false
			}
			f, ok := value.GetField(fields, p.path)
			if !ok {
				return 0, false
			}
			ts := f.GetTimestampValue()
			if ts == nil {
				return 0, false
			}
			// Truncated to the µs (towards the past), so the index never reports a document
			// later than it expires.
			return ts.AsTime().UnixMicro(), true
		},
	}, nil
}

// indexConfig names a policy set independently of its order.
func indexConfig(policies []compiledPolicy) string {
	names := make([]string, len(policies))
	for i, p := range policies {
		names[i] = p.String()
	}
	slices.Sort(names)
	return "ttl:" + strings.Join(names, "\n")
}

func groupPolicies(policies []compiledPolicy) map[string]compiledPolicy {
	m := make(map[string]compiledPolicy, len(policies))
	for _, p := range policies {
		m[p.CollectionGroup] = p
	}
	return m
}

// collectionOf is the id of the collection holding the document at path.
func collectionOf(path []string) string {
	if len(path) < 2 {
		return ""
	}
	return path[len(path)-2]
}

// policyOf is the policy that applies to the document at path, if any.
func (s *Sweeper) policyOf(path []string) (compiledPolicy, bool) {
	p, ok := s.byGroup[collectionOf(path)]
	return p, ok
}
