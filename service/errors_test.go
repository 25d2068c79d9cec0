package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tally-dev/tally/internal/testlog"
	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// secret stands for internal detail (addresses, Firestore messages) that must reach the log but
// never a client.
const secret = "firestore at 10.1.2.3:8080 said: rpc error"

func TestCoreErrorsMapToCodes(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code codes.Code
		// logged is the log level the error must appear at, or "" for none at all.
		logged string
	}{
		{"not found", shard.ErrNotFound, codes.NotFound, ""},
		{"already exists", shard.ErrAlreadyExists, codes.AlreadyExists, ""},
		{"key reused", shard.ErrKeyReused, codes.FailedPrecondition, ""},
		{"out of range", shard.ErrOutOfRange, codes.OutOfRange, ""},
		{"too large", fmt.Errorf("%w: %s", shard.ErrTooLarge, secret), codes.InvalidArgument, ""},
		{"overloaded", shard.ErrOverloaded, codes.ResourceExhausted, ""},
		{"contention", fmt.Errorf("%w: %s", shard.ErrContention, secret), codes.Aborted, ""},
		{"unknown outcome", fmt.Errorf("%w: %s", shard.ErrUnknownOutcome, secret), codes.Unavailable, "WARN"},
		{"unavailable", fmt.Errorf("%w: %s", shard.ErrUnavailable, secret), codes.Unavailable, ""},
		{"closed", shard.ErrClosed, codes.Unavailable, ""},
		{"canceled", context.Canceled, codes.Canceled, ""},
		{"deadline exceeded", fmt.Errorf("commit: %w", context.DeadlineExceeded), codes.DeadlineExceeded, ""},
		{"wrapped not found", fmt.Errorf("load %s: %w", secret, shard.ErrNotFound), codes.NotFound, ""},
		{"unknown", errors.New(secret), codes.Internal, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.counters.EXPECT().Get(gomock.Any(), "apples").Return(nil, tt.err)
			_, err := h.wire.GetCounter(testContext(t), &tallyv1.GetCounterRequest{Name: "counters/apples"})
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("status %v %q, want %v", st.Code(), st.Message(), tt.code)
			}
			if strings.Contains(st.Message(), secret) {
				t.Errorf("message %q leaks the internal detail", st.Message())
			}
			if len(st.Details()) != 0 {
				t.Errorf("details %v, want none", st.Details())
			}
			if tt.code == codes.Internal {
				if st.Message() != internalMessage {
					t.Errorf("message %q, want the bare %q", st.Message(), internalMessage)
				}
			} else if !strings.Contains(st.Message(), `counter "counters/apples"`) {
				t.Errorf("message %q does not name the counter", st.Message())
			}
			logs := h.logs.String()
			if tt.logged == "" {
				if logs != "" {
					t.Errorf("logged %q, want nothing", logs)
				}
				return
			}
			for _, want := range []string{"level=" + tt.logged, "method=/tally.v1.CounterService/GetCounter", secret, "counters/apples"} {
				if !strings.Contains(logs, want) {
					t.Errorf("log %q lacks %q", logs, want)
				}
			}
		})
	}
}

func TestErrorsNameWhatFailed(t *testing.T) {
	tests := []struct {
		name   string
		expect func(m *MockCountersMockRecorder)
		call   call
		code   codes.Code
		want   string
	}{
		{
			name: "BatchIncrement",
			expect: func(m *MockCountersMockRecorder) {
				m.BatchIncrement(gomock.Any(), gomock.Any(), "k").Return(shard.WriteResult{}, shard.ErrKeyReused)
			},
			call: batchIncrement(&tallyv1.BatchIncrementRequest{
				Requests: []*tallyv1.IncrementRequest{{Name: "counters/a", Delta: 1}}, IdempotencyKey: "k",
			}),
			code: codes.FailedPrecondition,
			want: "batch increment: the idempotency key was already used for a different request",
		},
		{
			name: "BatchGetCounters",
			expect: func(m *MockCountersMockRecorder) {
				m.BatchGet(gomock.Any(), []string{"a", "b"}).Return(nil, shard.ErrNotFound)
			},
			call: batchGet(&tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b"}}),
			code: codes.NotFound,
			want: "one of the requested counters does not exist",
		},
		{
			name: "CreateCounter",
			expect: func(m *MockCountersMockRecorder) {
				m.CreateWith(gomock.Any(), "a", shard.Settings{}).Return(nil, shard.ErrAlreadyExists)
			},
			call: create(&tallyv1.CreateCounterRequest{CounterId: "a"}),
			code: codes.AlreadyExists,
			want: `counter "counters/a" already exists`,
		},
		{
			name: "Increment",
			expect: func(m *MockCountersMockRecorder) {
				m.Increment(gomock.Any(), "a", int64(1), "").Return(shard.WriteResult{}, shard.ErrOutOfRange)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
				_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 1})
				return err
			},
			code: codes.OutOfRange,
			want: `counter "counters/a": the value would leave the int64 range; nothing was applied`,
		},
		{
			name: "DeleteCounter",
			expect: func(m *MockCountersMockRecorder) {
				m.Delete(gomock.Any(), "a").Return(shard.ErrNotFound)
			},
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
				_, err := c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: "counters/a"})
				return err
			},
			code: codes.NotFound,
			want: `counter "counters/a" does not exist`,
		},
		{
			name: "ListCounters",
			expect: func(m *MockCountersMockRecorder) {
				m.List(gomock.Any(), gomock.Any()).Return(nil, "", shard.ErrClosed)
			},
			call: list(&tallyv1.ListCountersRequest{}),
			code: codes.Unavailable,
			want: "listing counters: the server is shutting down; nothing was applied, retry",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.expect(h.counters.EXPECT())
			st := status.Convert(tt.call(testContext(t), h.wire))
			if st.Code() != tt.code || st.Message() != tt.want {
				t.Errorf("status %v %q, want %v %q", st.Code(), st.Message(), tt.code, tt.want)
			}
		})
	}
}

// The page token is the one argument only the core checks; its rejection still names the field.
func TestCoreBadPageTokenNamesPageToken(t *testing.T) {
	h := newHarness(t)
	h.counters.EXPECT().List(gomock.Any(), gomock.Any()).
		Return(nil, "", fmt.Errorf("list: %w", shard.ErrBadPageToken))
	err := list(&tallyv1.ListCountersRequest{PageToken: "stale"})(testContext(t), h.wire)
	wantFieldViolation(t, err, "page_token")
}

// A read time only the storage can refuse (in the future by its clock, or not a whole minute
// beyond the last hour) names read_time, as does the core's own refusal of a time validation
// accepted a moment earlier; one older than the storage keeps is FAILED_PRECONDITION.
func TestCoreReadTimeErrors(t *testing.T) {
	at := time.Now().Add(-time.Minute).UTC()
	req := &tallyv1.GetCounterRequest{Name: "counters/apples", ReadTime: timestamppb.New(at)}
	for _, err := range []error{
		fmt.Errorf("%w: %s", shard.ErrBadReadTime, secret),
		&shard.ArgError{Arg: "at", Msg: "is more than an hour ago and not a whole minute"},
	} {
		h := newHarness(t)
		h.counters.EXPECT().GetAt(gomock.Any(), "apples", at).Return(nil, err)
		_, got := h.wire.GetCounter(testContext(t), req)
		wantFieldViolation(t, got, "read_time")
		if strings.Contains(status.Convert(got).Message(), secret) {
			t.Errorf("message %q leaks the internal detail", status.Convert(got).Message())
		}
	}
	h := newHarness(t)
	h.counters.EXPECT().GetAt(gomock.Any(), "apples", at).Return(nil, fmt.Errorf("%w: %s", shard.ErrReadTimeTooOld, secret))
	_, err := h.wire.GetCounter(testContext(t), req)
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || !strings.Contains(st.Message(), "read_time is older than") ||
		!strings.Contains(st.Message(), `counter "counters/apples"`) || strings.Contains(st.Message(), secret) {
		t.Errorf("status %v %q, want FailedPrecondition naming the counter and read_time", st.Code(), st.Message())
	}
}

// A real core rejection (an ArgError, in the core's argument names) can only reach toStatus if
// validation missed a check: it is answered INVALID_ARGUMENT without the core's argument name,
// and logged as the bug it is.
func TestCoreArgErrorIsInvalidArgumentWithoutCoreNames(t *testing.T) {
	store, err := shard.New(nil, shard.Options{}) // rejections happen before the client is used
	if err != nil {
		t.Fatal(err)
	}
	_, coreErr := store.Get(t.Context(), "a/b")
	var arg *shard.ArgError
	if !errors.As(coreErr, &arg) || arg.Arg != "id" {
		t.Fatalf("core error %v, want an ArgError about id", coreErr)
	}
	logs := &testlog.Buffer{}
	st := status.Convert(toStatus(t.Context(), slog.New(slog.NewTextHandler(logs, nil)), about(counterSubject("a/b"), coreErr)))
	if want := `counter "counters/a/b": invalid argument`; st.Code() != codes.InvalidArgument || st.Message() != want {
		t.Errorf("status %v %q, want InvalidArgument %q", st.Code(), st.Message(), want)
	}
	if len(st.Details()) != 0 {
		t.Errorf("details %v, want none: no API field is known", st.Details())
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log %q has no error", logs.String())
	}
}

// Core faults that come back without an error must still reach the client as INTERNAL, not as
// a crash or a malformed response.
func TestMalformedCoreResultsAreInternal(t *testing.T) {
	tests := []struct {
		name   string
		expect func(m *MockCountersMockRecorder)
		call   call
	}{
		{
			name:   "nil counter",
			expect: func(m *MockCountersMockRecorder) { m.Get(gomock.Any(), "a").Return(nil, nil) },
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
				_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a"})
				return err
			},
		},
		{
			name: "nil counter in a list",
			expect: func(m *MockCountersMockRecorder) {
				m.List(gomock.Any(), gomock.Any()).Return([]*shard.Counter{fullCounter("a", 1), nil}, "", nil)
			},
			call: list(&tallyv1.ListCountersRequest{}),
		},
		{
			// counter.proto does not make protobuf refuse to send strings that are not UTF-8,
			// which clients of the earlier, proto3 API would fail to decode.
			name:   "counter id that is not UTF-8",
			expect: func(m *MockCountersMockRecorder) { m.Get(gomock.Any(), "a").Return(fullCounter("a\xff", 1), nil) },
			call: func(ctx context.Context, c tallyv1.CounterServiceClient) error {
				_, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/a"})
				return err
			},
		},
		{
			name: "page token that is not UTF-8",
			expect: func(m *MockCountersMockRecorder) {
				m.List(gomock.Any(), gomock.Any()).Return([]*shard.Counter{fullCounter("a", 1)}, "next\xff", nil)
			},
			call: list(&tallyv1.ListCountersRequest{}),
		},
		{
			name: "batch of the wrong length",
			expect: func(m *MockCountersMockRecorder) {
				m.BatchGet(gomock.Any(), []string{"a", "b"}).Return([]*shard.Counter{fullCounter("a", 1)}, nil)
			},
			call: batchGet(&tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b"}}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.expect(h.counters.EXPECT())
			st := status.Convert(tt.call(testContext(t), h.wire))
			if st.Code() != codes.Internal || st.Message() != internalMessage {
				t.Errorf("status %v %q, want Internal %q", st.Code(), st.Message(), internalMessage)
			}
			if !strings.Contains(h.logs.String(), "level=ERROR") {
				t.Errorf("log %q has no error", h.logs.String())
			}
		})
	}
}

func TestServerWithoutCountersAnswersInternal(t *testing.T) {
	logs := &testlog.Buffer{}
	client := serve(t, New(Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}))
	_, err := client.GetCounter(testContext(t), &tallyv1.GetCounterRequest{Name: "counters/a"})
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != internalMessage {
		t.Errorf("status %v %q, want Internal %q", st.Code(), st.Message(), internalMessage)
	}
	if !strings.Contains(logs.String(), errUnconfigured.Error()) {
		t.Errorf("log %q does not say why", logs.String())
	}
}

func TestToStatus(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		err    error
		code   codes.Code
		msg    string
		errLog bool
	}{
		{name: "nil", ctx: t.Context(), err: nil, code: codes.OK, msg: ""},
		{name: "unknown error after the client left", ctx: canceled, err: about(counterSubject("a"), errors.New(secret)),
			code: codes.Canceled, msg: `counter "counters/a": the request was canceled`},
		{name: "unknown error", ctx: t.Context(), err: errors.New(secret), code: codes.Internal, msg: internalMessage, errLog: true},
		{name: "invalid argument without a field", ctx: t.Context(), err: fmt.Errorf("%w: bad cursor", shard.ErrInvalidArgument),
			code: codes.InvalidArgument, msg: "invalid argument: bad cursor"},
		{name: "known error without a subject", ctx: t.Context(), err: shard.ErrNotFound, code: codes.NotFound, msg: "request does not exist"},
		{name: "field error with invalid UTF-8", ctx: t.Context(), err: &fieldError{field: "name", msg: "bad \xff"},
			code: codes.InvalidArgument, msg: "name: bad \uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &testlog.Buffer{}
			err := toStatus(tt.ctx, slog.New(slog.NewTextHandler(logs, nil)), tt.err)
			if tt.err == nil && err != nil {
				t.Fatalf("toStatus(nil) = %v, want nil", err)
			}
			st := status.Convert(err)
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Errorf("status %v %q, want %v %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			if got := strings.Contains(logs.String(), "level=ERROR"); got != tt.errLog {
				t.Errorf("error logged = %v, want %v (log %q)", got, tt.errLog, logs.String())
			}
		})
	}
}
