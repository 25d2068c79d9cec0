package shard_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tally-dev/tally/shard"
)

// The core refuses bad arguments itself, naming them in its own terms; it never names an API
// field (service/ does that, before calling the core). Every case fails before the Firestore
// client is used, so the store needs none.
func TestBadArgumentsAreRefusedByName(t *testing.T) {
	s, err := shard.New(nil, shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	longID := strings.Repeat("x", 1501)
	longKey := strings.Repeat("k", shard.MaxKeyBytes+1)
	tooManyDeltas := make([]shard.Delta, shard.MaxBatchDeltas+1)
	for i := range tooManyDeltas {
		tooManyDeltas[i] = shard.Delta{CounterID: "a", Delta: 1}
	}
	tests := []struct {
		name string
		call func() error
		arg  string
	}{
		{"Increment empty id", func() error { _, err := s.Increment(ctx, "", 1, ""); return err }, "id"},
		{"Increment long key", func() error { _, err := s.Increment(ctx, "a", 1, longKey); return err }, "key"},
		{"Increment invalid UTF-8 key", func() error { _, err := s.Increment(ctx, "a", 1, "\xff"); return err }, "key"},
		{"BatchIncrement no deltas", func() error { _, err := s.BatchIncrement(ctx, nil, ""); return err }, "deltas"},
		{"BatchIncrement too many deltas", func() error { _, err := s.BatchIncrement(ctx, tooManyDeltas, ""); return err }, "deltas"},
		{"BatchIncrement bad id", func() error {
			_, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "a"}, {CounterID: "a/b"}}, "")
			return err
		}, "deltas[1].CounterID"},
		{"BatchIncrement long key", func() error {
			_, err := s.BatchIncrement(ctx, []shard.Delta{{CounterID: "a"}}, longKey)
			return err
		}, "key"},
		{"Get long id", func() error { _, err := s.Get(ctx, longID); return err }, "id"},
		{"BatchGet no ids", func() error { _, err := s.BatchGet(ctx, nil); return err }, "ids"},
		{"BatchGet too many ids", func() error { _, err := s.BatchGet(ctx, make([]string, shard.MaxBatchGet+1)); return err }, "ids"},
		{"BatchGet reserved id", func() error { _, err := s.BatchGet(ctx, []string{"a", "__x__"}); return err }, "ids[1]"},
		{"Create dot id", func() error { _, err := s.Create(ctx, ".", 0); return err }, "id"},
		{"Create too many shards", func() error { _, err := s.Create(ctx, "a", shard.MaxShards+1); return err }, "shards"},
		{"Resize bad id", func() error { _, err := s.Resize(ctx, "..", 4); return err }, "id"},
		{"Resize negative shards", func() error { _, err := s.Resize(ctx, "a", -1); return err }, "shards"},
		{"Reset bad id", func() error { _, err := s.Reset(ctx, "a\xffb", ""); return err }, "id"},
		{"Reset long key", func() error { _, err := s.Reset(ctx, "a", longKey); return err }, "key"},
		{"Delete empty id", func() error { return s.Delete(ctx, "") }, "id"},
		{"List prefix with slash", func() error { _, _, err := s.List(ctx, shard.ListOptions{Prefix: "a/"}); return err }, "opts.Prefix"},
		{"List long prefix", func() error { _, _, err := s.List(ctx, shard.ListOptions{Prefix: longID}); return err }, "opts.Prefix"},
		{"List negative page size", func() error { _, _, err := s.List(ctx, shard.ListOptions{PageSize: -1}); return err }, "opts.PageSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var arg *shard.ArgError
			if !errors.As(err, &arg) {
				t.Fatalf("error %v, want an ArgError", err)
			}
			if arg.Arg != tt.arg || arg.Msg == "" {
				t.Errorf("ArgError %+v, want one about %q with a message", arg, tt.arg)
			}
			if !errors.Is(err, shard.ErrInvalidArgument) {
				t.Errorf("errors.Is(%v, ErrInvalidArgument) = false", err)
			}
		})
	}
}

// A page token is the core's own: a malformed one is ErrBadPageToken, an ErrInvalidArgument.
func TestMalformedPageToken(t *testing.T) {
	s, err := shard.New(nil, shard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"not base64!", "bm90IGpzb24", "e30"} { // …, "not json", "{}"
		_, _, err := s.List(context.Background(), shard.ListOptions{PageToken: token})
		if !errors.Is(err, shard.ErrBadPageToken) || !errors.Is(err, shard.ErrInvalidArgument) {
			t.Errorf("token %q: %v, want ErrBadPageToken", token, err)
		}
	}
}

func TestPageSize(t *testing.T) {
	tests := []struct {
		in, want int
		wantErr  bool
	}{
		{in: -1, wantErr: true},
		{in: 0, want: shard.DefaultPageSize},
		{in: 1, want: 1},
		{in: shard.MaxPageSize, want: shard.MaxPageSize},
		{in: shard.MaxPageSize + 1, want: shard.MaxPageSize},
	}
	for _, tt := range tests {
		got, err := shard.PageSize(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("PageSize(%d) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
