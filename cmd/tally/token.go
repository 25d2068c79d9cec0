package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tally-dev/tally/internal/auth"
)

// permissions are the ones a tokens file accepts, in the order they are
// written.
var permissions = []string{"read", "write", "admin"}

// principal is an entry of tallyd's tokens file ("principals" list).
type principal struct {
	ID          string   `json:"id"`
	TokenSHA256 string   `json:"token_sha256"`
	Prefixes    []string `json:"prefixes"`
	Permissions []string `json:"permissions"`
}

func tokenCommand() *command {
	return &command{
		name:    "token",
		args:    "new --id ID --prefix P... --permission LIST",
		summary: "make a new token and its entry for tallyd's tokens file",
		local:   true,
		details: `Prints a new random token and the principal entry that grants it access,
for the "principals" list of the file tallyd reads with --tokens-file. The
entry holds only the token's SHA-256, and tally keeps no copy of the token:
it is shown this once, so store it now (in a secret manager, or give it to
the caller, who sends it with --token or $TALLY_TOKEN).

The principal may touch the counters whose IDs start with one of its
prefixes (--prefix "" for every counter), with the listed permissions:
read (get, list), write (inc) and admin (create, resize, reset, delete),
independent of each other. With --json the token and the entry are printed
as one JSON object {"token": ..., "principal": ...}.

Nothing is sent to a server: tallyd picks the entry up when its tokens file
changes.`,
		setup: func(fs *flag.FlagSet) action {
			id := fs.String("id", "", "the principal's unique `ID`, shown in tallyd's audit lines")
			var prefixes, perms listFlag
			fs.Var(&prefixes, "prefix", "counter-ID prefix `P` the token may touch; repeat for several, \"\" for all")
			fs.Var(&perms, "permission", "comma-separated `LIST` of read, write and admin; may be repeated")
			return func(ctx context.Context, s *session, args []string) error {
				if len(args) == 0 {
					return usageErrorf("missing subcommand: tally token new")
				}
				if args[0] != "new" {
					return usageErrorf("unknown subcommand %q: want new", args[0])
				}
				if err := checkArgCount(args[1:], 0); err != nil {
					return err
				}
				p, err := newPrincipal(*id, prefixes, perms)
				if err != nil {
					return err
				}
				// The server's own functions, so that the entry is what it reads.
				token, hash, err := auth.NewToken()
				if err != nil {
					return fmt.Errorf("making a token: %w", err)
				}
				p.TokenSHA256 = hash
				return printToken(s, token, p)
			}
		},
	}
}

// newPrincipal checks the flags of a principal entry, without its hash.
func newPrincipal(id string, prefixes, perms []string) (principal, error) {
	if id == "" {
		return principal{}, usageErrorf("missing --id: every principal needs a unique ID")
	}
	if !utf8.ValidString(id) {
		return principal{}, usageErrorf("--id must be valid UTF-8")
	}
	p := principal{ID: id}
	if len(prefixes) == 0 {
		return principal{}, usageErrorf(`missing --prefix: give the counter-ID prefixes the token may touch (--prefix "" for every counter)`)
	}
	for _, prefix := range prefixes {
		// A full-name prefix can only mean its ID part, as for list.
		prefix = strings.TrimPrefix(prefix, namePrefix)
		if !utf8.ValidString(prefix) {
			return principal{}, usageErrorf("--prefix %q must be valid UTF-8", prefix)
		}
		if strings.Contains(prefix, "/") {
			return principal{}, usageErrorf(`--prefix %q: counter IDs contain no "/", so no counter would match`, prefix)
		}
		if !slices.Contains(p.Prefixes, prefix) {
			p.Prefixes = append(p.Prefixes, prefix)
		}
	}
	granted := map[string]bool{}
	for _, list := range perms {
		for _, perm := range strings.Split(list, ",") {
			perm = strings.TrimSpace(perm)
			if !slices.Contains(permissions, perm) {
				return principal{}, usageErrorf("--permission %q: want read, write or admin", perm)
			}
			granted[perm] = true
		}
	}
	if len(granted) == 0 {
		return principal{}, usageErrorf("missing --permission: give some of read, write and admin (--permission read,write)")
	}
	for _, perm := range permissions {
		if granted[perm] {
			p.Permissions = append(p.Permissions, perm)
		}
	}
	return p, nil
}

func printToken(s *session, token string, p principal) error {
	if s.out.json {
		line, err := compactJSON(struct {
			Token     string    `json:"token"`
			Principal principal `json:"principal"`
		}{token, p})
		if err != nil {
			return err
		}
		_, err = s.out.w.Write(line)
		return err
	}
	entry, err := compactJSON(p)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.out.w, "token:     %s\nprincipal: %s", token, entry); err != nil {
		return err
	}
	fmt.Fprintln(s.stderr, `tally: the token is shown only this once; store it now. Add the principal to the "principals" list of tallyd's --tokens-file, which keeps only the token's hash.`)
	return nil
}

// compactJSON encodes v on one line, ending in a newline, without escaping
// <, > and & (prefixes and IDs are shown as they are).
func compactJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// listFlag is a flag that may be repeated; every value is kept, "" too.
type listFlag []string

var _ flag.Value = (*listFlag)(nil)

func (f *listFlag) String() string {
	if f == nil {
		return ""
	}
	return strings.Join(*f, ",")
}

func (f *listFlag) Set(s string) error {
	*f = append(*f, s)
	return nil
}
