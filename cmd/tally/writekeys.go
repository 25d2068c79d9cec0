package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/tally-dev/tally/client"
)

// keyFlags are the idempotency flags of the writes, inc and reset. By default
// a write carries a fresh key, drawn by the client for this run, and is
// retried with it: it applies exactly once however many attempts it takes.
type keyFlags struct {
	fs    *flag.FlagSet
	key   string
	noKey bool
}

// addKeyFlags registers --key and --no-key on fs; what names the write
// ("increment", "reset") in their help.
func addKeyFlags(fs *flag.FlagSet, what string) *keyFlags {
	k := &keyFlags{fs: fs}
	fs.StringVar(&k.key, "key", "", "idempotency key `K` of your own instead of a fresh one: "+what+" at most once per counter and key, also across runs")
	fs.BoolVar(&k.noKey, "no-key", false, "send no key and make one attempt: at-least-once, a lost answer is an error and running again may count twice")
	return k
}

// keyGiven reports whether --key was on the command line, even empty.
func (k *keyFlags) keyGiven() bool {
	given := false
	k.fs.Visit(func(f *flag.Flag) { given = given || f.Name == "key" })
	return given
}

// writer sends one run's write as the flags say.
type writer struct {
	api   *client.Client
	seen  *contact
	opt   client.WriteOption
	what  string // "increment", "reset"
	fresh bool   // the key is the client's, drawn for this run
	close func() error
}

// writer checks the flags and returns how to send the write; the caller
// closes it.
func (k *keyFlags) writer(ctx context.Context, s *session, what string) (*writer, error) {
	given := k.keyGiven()
	switch {
	case given && k.noKey:
		return nil, usageErrorf("--key and --no-key exclude each other: give one or neither")
	case given && k.key == "":
		// The client would take an empty key for a fresh one; the user who
		// typed --key "" more likely lost a variable on the way.
		return nil, usageErrorf("--key must not be empty: leave it out for a fresh key")
	case given:
		return &writer{api: s.api, seen: s.contact, opt: client.WithKey(k.key), what: what, close: noClose}, nil
	case k.noKey:
		// The client retries even an unkeyed write when the server certainly
		// applied nothing; --no-key is the single attempt of old.
		api, err := s.singleAttempt(ctx)
		if err != nil {
			return nil, err
		}
		return &writer{api: api, seen: s.contact, opt: client.WithoutKey(), what: what, close: api.Close}, nil
	}
	return &writer{api: s.api, seen: s.contact, opt: client.WithKey(""), what: what, fresh: true, close: noClose}, nil
}

func noClose() error { return nil }

// failed is the error to report for a write that failed after the attempts
// in res. When the key was fresh and the outcome is unknown, it carries the
// key, so that the user can finish the write with --key and still count it
// at most once; repeating it without one could count it twice.
func (w *writer) failed(err error, res client.Result) error {
	if !w.fresh || res.Key == "" || !w.seen.anyReached() || !outcomeUnknown(err) {
		return err
	}
	return &unsureWriteError{err: err, what: w.what, key: res.Key}
}

// outcomeUnknown reports whether a write that reached the server and failed
// with err may have been applied all the same: its last answer was lost or
// never came, and the earlier attempts' may have been too.
func outcomeUnknown(err error) bool {
	for _, lost := range []error{client.ErrUnavailable, client.ErrDeadlineExceeded, client.ErrCanceled,
		client.ErrUnknown, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, lost) {
			return true
		}
	}
	return false
}

// unsureWriteError is a write with a fresh key that failed in a way that may
// have applied it.
type unsureWriteError struct {
	err       error
	what, key string
}

func (e *unsureWriteError) Error() string {
	return fmt.Sprintf("%v (the %s may have been applied; its key was %s)", e.err, e.what, e.key)
}

func (e *unsureWriteError) Unwrap() error { return e.err }

// hint tells the user how to finish the write exactly once.
func (e *unsureWriteError) hint() string {
	return fmt.Sprintf("the %s may have been applied: to apply it at most once, run the command again with --key %s", e.what, e.key)
}
