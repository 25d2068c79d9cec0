package shard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/internal/faultinject"
	"github.com/tally-dev/tally/shard"
)

// logBuffer collects a Counters' log lines, written by its lanes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The store logs what an operator needs of the commit sequence through Options.Logger.
func TestStoreLogs(t *testing.T) {
	tests := []struct {
		name    string
		fault   *faultinject.Fault // on the store's Firestore calls, if any
		delta   int64
		wantErr error
		want    []string // in the log
	}{
		{
			name:    "unknown outcome is a warning",
			fault:   &faultinject.Fault{Method: faultinject.Commit, If: faultinject.PlainCommit, Action: faultinject.FailBefore, Code: codes.Internal},
			delta:   1,
			wantErr: shard.ErrUnknownOutcome,
			want:    []string{"level=WARN", `msg="commit outcome unknown"`, "counters=[c]"},
		},
		{
			name:  "fall back to the locked path is a debug line",
			delta: math.MaxInt64, // beyond every shard's bound: only the locked path can place it
			want:  []string{"level=DEBUG", `msg="a commit falls back to the locked path"`, "counters=[c]", "int64 bounds"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			em := emulatortest.Start(t, emulator.Options{})
			logs := &logBuffer{}
			opts := shard.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			s, inj := injectedStore(t, em, opts)
			ctx := context.Background()
			if _, err := s.Create(ctx, "c", 0); err != nil {
				t.Fatal(err)
			}
			if tt.fault != nil {
				inj.Arm(*tt.fault)
			}
			if _, err := s.Increment(ctx, "c", tt.delta, ""); !errors.Is(err, tt.wantErr) {
				t.Fatalf("increment: %v, want %v", err, tt.wantErr)
			}
			for _, want := range tt.want {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
			}
		})
	}
}
