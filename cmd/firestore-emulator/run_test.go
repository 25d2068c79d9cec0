package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tally-dev/tally/emulator/emulatortest"
)

// startCommand runs the command with args until the test ends and returns the address it
// prints.
func startCommand(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"--port", "0"}, args...), w, io.Discard)
		_ = w.CloseWithError(err)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("the command printed nothing: %v", lines.Err())
	}
	first := lines.Text()
	go func() { _, _ = io.Copy(io.Discard, out) }() // the rest of the banner
	const prefix = "Firestore emulator listening on "
	addr, _, ok := strings.Cut(strings.TrimPrefix(first, prefix), ",")
	if !ok || !strings.HasPrefix(first, prefix) {
		t.Fatalf("first line %q does not give the address", first)
	}
	return addr
}

// TestIndexChecksThroughTheCommand: a query with an equality and an order on another field
// needs a composite index. The command refuses it by default, as production does, serves it once
// --indexes declares the index, and serves it without checking under --no-index-check.
func TestIndexChecksThroughTheCommand(t *testing.T) {
	t.Parallel()
	declared := writeFile(t, "firestore.indexes.json", `{"indexes": [{"collectionGroup": "items", "queryScope": "COLLECTION",
  "fields": [{"fieldPath": "x", "order": "ASCENDING"}, {"fieldPath": "q", "order": "ASCENDING"}]}]}`)
	tests := []struct {
		name     string
		args     []string
		wantCode codes.Code
	}{
		{"no --indexes", []string{"--in-memory"}, codes.FailedPrecondition},
		{"--indexes declaring it", []string{"--in-memory", "--indexes", declared}, codes.OK},
		{"--no-index-check", []string{"--in-memory", "--no-index-check"}, codes.OK},
		{"on disk, no --indexes", []string{"--data-dir", t.TempDir()}, codes.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := emulatortest.NewClient(t, startCommand(t, tt.args...), "index-flags")
			ctx := context.Background()
			items := client.Collection("items")
			if _, err := items.Doc("a").Set(ctx, map[string]any{"x": 1, "q": "b"}); err != nil {
				t.Fatal(err)
			}
			docs, err := items.Where("x", "==", 1).OrderBy("q", firestore.Asc).Documents(ctx).GetAll()
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("query: %v, want code %v", err, tt.wantCode)
			}
			if tt.wantCode == codes.FailedPrecondition && !strings.Contains(err.Error(), `{"fieldPath":"x","order":"ASCENDING"},{"fieldPath":"q","order":"ASCENDING"}`) {
				t.Fatalf("the error %q does not name the index to add", err)
			}
			if tt.wantCode == codes.OK && len(docs) != 1 {
				t.Fatalf("%d documents, want 1", len(docs))
			}
			// Single-field queries need no declaration.
			if _, err := items.Where("q", ">", "a").Documents(ctx).GetAll(); err != nil {
				t.Fatalf("single-field query: %v", err)
			}
		})
	}
}
