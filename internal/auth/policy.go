package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/tally-dev/tally/shard"
)

// Permission is a set of the things a principal may do. The three are independent: admin does not
// imply write, nor write read, so that a token can be given exactly what its holder needs.
type Permission uint8

const (
	// Read: GetCounter, BatchGetCounters, ListCounters, WatchCounter.
	Read Permission = 1 << iota
	// Write: Increment, BatchIncrement.
	Write
	// Admin: CreateCounter, UpdateCounter, ResetCounter, DeleteCounter.
	Admin
)

// allPermissions is what a principal holds when a verified certificate is the only policy.
const allPermissions = Read | Write | Admin

// permissionNames spells each permission as the policy file does.
var permissionNames = []struct {
	perm Permission
	name string
}{{Read, "read"}, {Write, "write"}, {Admin, "admin"}}

// String lists the permissions as the policy file spells them, e.g. "read,write".
func (p Permission) String() string {
	var names []string
	for _, pn := range permissionNames {
		if p&pn.perm != 0 {
			names = append(names, pn.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Principal is an authenticated caller. Principals returned by PrincipalFrom are shared by every
// call of the same caller: read them, never modify them.
type Principal struct {
	// ID names the principal in logs and errors: the policy's id, or the certificate's identity
	// when certificates are trusted without a policy.
	ID string
	// Prefixes are the counter-id prefixes the principal may touch; "" covers every counter.
	Prefixes []string
	// Permissions are what it may do with them.
	Permissions Permission
}

// Has reports whether the principal holds every permission in perm.
func (p *Principal) Has(perm Permission) bool { return p.Permissions&perm == perm }

// Allows reports whether the counter with the given id lies within the principal's prefixes.
func (p *Principal) Allows(counterID string) bool {
	for _, prefix := range p.Prefixes {
		if strings.HasPrefix(counterID, prefix) {
			return true
		}
	}
	return false
}

// Policy is a loaded token policy file: who may call, and what they may do. It is immutable, so
// calls can keep using the policy they started with while a newer one takes over.
type Policy struct {
	principals []*Principal
	// tokens holds the principals that have a token, with the token's SHA-256 hash.
	tokens []tokenEntry
	// certs maps a certificate identity to its principal.
	certs map[string]*Principal
	// digest is the SHA-256 of the file the policy was parsed from, so that Watch can tell a
	// rewrite with the same content (a touch, a copy) from a change.
	digest [sha256.Size]byte
}

type tokenEntry struct {
	hash      [sha256.Size]byte
	principal *Principal
}

// Load reads and parses the policy file at path. Errors name the file and, for a principal that
// fails validation, its position, id and the offending field.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the tokens file: %w", err)
	}
	pol, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return pol, nil
}

// Parse parses and validates a policy file's content (the format is in the package documentation).
func Parse(data []byte) (*Policy, error) {
	file, err := decodeFile(data)
	if err != nil {
		return nil, err
	}
	pol := &Policy{certs: map[string]*Principal{}, digest: sha256.Sum256(data)}
	ids := map[string]int{}
	tokens := map[[sha256.Size]byte]int{}
	for i, fp := range file.Principals {
		p, hash, err := fp.validate()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", principalLabel(i, fp.ID), err)
		}
		if j, dup := ids[p.ID]; dup {
			return nil, fmt.Errorf("%s: id: %q is also the id of principals[%d]", principalLabel(i, fp.ID), p.ID, j)
		}
		ids[p.ID] = i
		if hash != nil {
			if j, dup := tokens[*hash]; dup {
				// Two principals with one token would make the token's rights depend on the
				// order of the file.
				return nil, fmt.Errorf("%s: token_sha256: is also the token of principals[%d] (%q)",
					principalLabel(i, fp.ID), j, file.Principals[j].ID)
			}
			tokens[*hash] = i
			pol.tokens = append(pol.tokens, tokenEntry{hash: *hash, principal: p})
		}
		if fp.CertIdentity != "" {
			if other, dup := pol.certs[fp.CertIdentity]; dup {
				return nil, fmt.Errorf("%s: cert_identity: %q is also the identity of %q",
					principalLabel(i, fp.ID), fp.CertIdentity, other.ID)
			}
			pol.certs[fp.CertIdentity] = p
		}
		pol.principals = append(pol.principals, p)
	}
	return pol, nil
}

// principalLabel names a principal of the file in an error: its position, and its id if it has one.
func principalLabel(i int, id string) string {
	if id == "" {
		return fmt.Sprintf("principals[%d]", i)
	}
	return fmt.Sprintf("principals[%d] (%q)", i, id)
}

// Len is the number of principals in the policy.
func (pol *Policy) Len() int { return len(pol.principals) }

// byToken returns the principal whose token is token, or nil. The token is hashed and its hash
// compared with every principal's in constant time, without stopping at a match, so that the
// time taken says nothing about which hash, or how much of one, matched.
func (pol *Policy) byToken(token string) *Principal {
	hash := sha256.Sum256([]byte(token))
	match := -1
	for i := range pol.tokens {
		eq := subtle.ConstantTimeCompare(hash[:], pol.tokens[i].hash[:])
		match = subtle.ConstantTimeSelect(eq, i, match)
	}
	if match < 0 {
		return nil
	}
	return pol.tokens[match].principal
}

// byCert returns the principal whose cert_identity is one of the certificate's identities. A
// certificate that matches several principals is refused rather than given the rights of one of
// them chosen by the order of its names. The errors go to the client: they name the
// certificate, which the client knows, but no principal.
func (pol *Policy) byCert(leaf *x509.Certificate) (*Principal, error) {
	var found *Principal
	for _, id := range certIdentities(leaf) {
		p := pol.certs[id]
		switch {
		case p == nil || p == found:
		case found != nil:
			return nil, fmt.Errorf("the client certificate %q matches the cert_identity of several principals", certName(leaf))
		default:
			found = p
		}
	}
	if found == nil {
		return nil, fmt.Errorf("the client certificate's identity %q matches no principal's cert_identity", certName(leaf))
	}
	return found, nil
}

// validate checks one principal of the file and returns it with its token hash (nil without one).
func (fp *filePrincipal) validate() (*Principal, *[sha256.Size]byte, error) {
	if fp.ID == "" {
		return nil, nil, fmt.Errorf("id: is required")
	}
	if fp.TokenSHA256 == "" && fp.CertIdentity == "" {
		return nil, nil, fmt.Errorf("has neither token_sha256 nor cert_identity; it needs one or both")
	}
	var hash *[sha256.Size]byte
	if fp.TokenSHA256 != "" {
		h, err := parseHash(fp.TokenSHA256)
		if err != nil {
			return nil, nil, fmt.Errorf("token_sha256: %w", err)
		}
		hash = &h
	}
	if len(fp.Prefixes) == 0 {
		return nil, nil, fmt.Errorf(`prefixes: is required and must not be empty; [""] allows every counter`)
	}
	for i, prefix := range fp.Prefixes {
		if err := shard.ValidatePrefix(prefix); err != nil {
			return nil, nil, fmt.Errorf("prefixes[%d]: %q %w", i, prefix, err)
		}
		if j := slices.Index(fp.Prefixes[:i], prefix); j >= 0 {
			return nil, nil, fmt.Errorf("prefixes[%d]: %q is also prefixes[%d]", i, prefix, j)
		}
	}
	if len(fp.Permissions) == 0 {
		return nil, nil, fmt.Errorf("permissions: is required and must not be empty; it lists some of read, write, admin")
	}
	var perms Permission
	for i, name := range fp.Permissions {
		perm, ok := parsePermission(name)
		if !ok {
			return nil, nil, fmt.Errorf("permissions[%d]: %q is not one of read, write, admin", i, name)
		}
		if perms&perm != 0 {
			return nil, nil, fmt.Errorf("permissions[%d]: %q is listed twice", i, name)
		}
		perms |= perm
	}
	return &Principal{ID: fp.ID, Prefixes: slices.Clone(fp.Prefixes), Permissions: perms}, hash, nil
}

func parsePermission(name string) (Permission, bool) {
	for _, pn := range permissionNames {
		if pn.name == name {
			return pn.perm, true
		}
	}
	return 0, false
}

var errBadHash = errors.New("is not 64 lowercase hex digits, the SHA-256 of the token")

// parseHash decodes a token_sha256: exactly 64 lowercase hex digits, so that one hash has one
// spelling and a token pasted by mistake in place of its hash is refused.
func parseHash(s string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	if len(s) != hex.EncodedLen(sha256.Size) || strings.ToLower(s) != s {
		return h, errBadHash
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, errBadHash
	}
	return h, nil
}
