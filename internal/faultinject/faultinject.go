// Package faultinject puts faults, on command, between a gRPC client and its server: tests put
// an Injector between the official Firestore client and the emulator to reproduce what the
// network does to a commit in production (an answer lost after the server applied the commit, a
// call that never left, a slow round trip, a deadline that passes while the commit applies) at a
// chosen call, deterministically.
//
// A fault is armed for the next Times calls that match a method and, optionally, a predicate on
// the request; each call gets at most one fault (the earliest armed rule that matches), and calls
// that match nothing pass through untouched. Every rule counts the calls it injected into and
// records what the server answered to the calls it let through, so a test can assert that the
// fault really fired, and on what.
//
// The official client's generated layer (apiv1) retries some codes by itself: a Commit that
// gets UNAVAILABLE or RESOURCE_EXHAUSTED is sent again, reads are retried on more codes, and
// RunTransaction re-runs its function when the Commit answers ABORTED. Losing an answer as
// UNAVAILABLE therefore makes the client re-send a Commit the server already applied, which is
// the case idempotency has to survive.
package faultinject

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Full method names of the Firestore calls the official client makes.
const (
	Commit              = "/google.firestore.v1.Firestore/Commit"
	BeginTransaction    = "/google.firestore.v1.Firestore/BeginTransaction"
	Rollback            = "/google.firestore.v1.Firestore/Rollback"
	BatchGetDocuments   = "/google.firestore.v1.Firestore/BatchGetDocuments"
	RunQuery            = "/google.firestore.v1.Firestore/RunQuery"
	RunAggregationQuery = "/google.firestore.v1.Firestore/RunAggregationQuery"
)

// Action is what a fault does to a call.
type Action int

const (
	// LoseAnswer lets the call reach the server and be applied, then answers the client with
	// Code (default UNAVAILABLE) instead of the server's answer, as when a connection drops after
	// the server committed. With ABORTED, RunTransaction re-runs its function.
	LoseAnswer Action = iota + 1
	// FailBefore answers Code (default UNAVAILABLE) without sending anything: nothing is applied.
	FailBefore
	// DelayBefore holds the call before sending it, for Delay or until Release is closed
	// (whichever comes first; with both unset the call is not held).
	DelayBefore
	// DelayAfter sends the call, then holds the server's answer as DelayBefore holds the call.
	DelayAfter
	// ApplyThenTimeout sends the call with a context detached from the caller's, so that it is
	// applied whatever the caller's deadline, then answers the caller's context error
	// (DEADLINE_EXCEEDED or CANCELLED) once the caller's context has ended: a commit that applies
	// but outlives its deadline. For a caller's context without a deadline, Delay (if set) stands
	// in for it; with neither, DEADLINE_EXCEEDED is answered as soon as the call returns.
	ApplyThenTimeout
)

func (a Action) String() string {
	switch a {
	case LoseAnswer:
		return "lose-answer"
	case FailBefore:
		return "fail-before"
	case DelayBefore:
		return "delay-before"
	case DelayAfter:
		return "delay-after"
	case ApplyThenTimeout:
		return "apply-then-timeout"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Fault describes a fault to arm.
type Fault struct {
	// Method is the full gRPC method name (e.g. Commit); "" matches every method.
	Method string
	// If, when set, must also hold for the request (for streams, the first message the client
	// sends), e.g. TransactionalCommit. It must not modify the request.
	If func(req any) bool
	// Action is what happens to matching calls.
	Action Action
	// Code is answered by LoseAnswer and FailBefore; default UNAVAILABLE.
	Code codes.Code
	// Delay bounds how long DelayBefore and DelayAfter hold a call; see ApplyThenTimeout for its
	// meaning there.
	Delay time.Duration
	// Release, when closed, ends the holds of DelayBefore and DelayAfter.
	Release <-chan struct{}
	// Times is how many of the next matching calls get the fault; 0 means 1, and a negative
	// value every matching call until Disarm.
	Times int
}

// Injector is a gRPC client interceptor, unary and stream, that injects armed faults. The zero
// value is not usable; call New. It is safe for concurrent use.
type Injector struct {
	mu    sync.Mutex
	rules []*Rule        // armed and not exhausted, earliest armed first
	calls map[string]int // calls seen, by method, faulted or not
	total int            // faults injected
}

// New returns an Injector with nothing armed: every call passes through.
func New() *Injector { return &Injector{calls: map[string]int{}} }

// Rule is an armed fault.
type Rule struct {
	in    *Injector
	f     Fault
	left  int // calls still to fault; negative: unlimited
	fired int
	// answers holds what the server answered to the calls this rule let through (nil: success).
	answers []error
	hit     chan struct{}
	hitOnce sync.Once
}

// Arm arms a fault for the next f.Times calls that match it and returns its rule.
func (in *Injector) Arm(f Fault) *Rule {
	if f.Action < LoseAnswer || f.Action > ApplyThenTimeout {
		panic(fmt.Sprintf("faultinject: unknown action %v", f.Action))
	}
	if f.Code == codes.OK {
		f.Code = codes.Unavailable
	}
	left := f.Times
	if left == 0 {
		left = 1
	}
	r := &Rule{in: in, f: f, left: left, hit: make(chan struct{})}
	in.mu.Lock()
	in.rules = append(in.rules, r)
	in.mu.Unlock()
	return r
}

// Disarm stops the rule from faulting further calls; calls it is already faulting finish.
func (r *Rule) Disarm() {
	r.in.mu.Lock()
	defer r.in.mu.Unlock()
	r.left = 0
	r.in.dropLocked(r)
}

// Fired is how many calls the rule has injected its fault into.
func (r *Rule) Fired() int {
	r.in.mu.Lock()
	defer r.in.mu.Unlock()
	return r.fired
}

// Hit is closed once the fault has taken effect on a first call: the call is being held
// (DelayBefore), its answer is in and being held (DelayAfter) or replaced (LoseAnswer,
// ApplyThenTimeout), or it was failed (FailBefore). Tests wait on it instead of sleeping.
func (r *Rule) Hit() <-chan struct{} { return r.hit }

// Answers returns what the server answered, so far, to each call the rule let through (LoseAnswer,
// DelayBefore, DelayAfter, ApplyThenTimeout), in order: nil means the call succeeded on the
// server, which for a lost Commit means it was applied.
func (r *Rule) Answers() []error {
	r.in.mu.Lock()
	defer r.in.mu.Unlock()
	return append([]error(nil), r.answers...)
}

// Injected is how many faults the injector has injected, all rules together.
func (in *Injector) Injected() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.total
}

// Calls is how many calls of method the client has made through the injector, faulted or not
// (re-sends by the client library count separately).
func (in *Injector) Calls(method string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls[method]
}

// take counts a call and returns the rule that faults it, if any, having charged the call to it.
func (in *Injector) take(method string, req any) *Rule {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls[method]++
	for _, r := range in.rules {
		if r.left == 0 || (r.f.Method != "" && r.f.Method != method) {
			continue
		}
		if r.f.If != nil && !r.f.If(req) {
			continue
		}
		r.fired++
		in.total++
		if r.left > 0 {
			r.left--
			if r.left == 0 {
				in.dropLocked(r)
			}
		}
		return r
	}
	return nil
}

func (in *Injector) dropLocked(r *Rule) {
	for i, x := range in.rules {
		if x == r {
			in.rules = append(in.rules[:i], in.rules[i+1:]...)
			return
		}
	}
}

func (r *Rule) answered(err error) {
	r.in.mu.Lock()
	r.answers = append(r.answers, err)
	r.in.mu.Unlock()
}

func (r *Rule) took() { r.hitOnce.Do(func() { close(r.hit) }) }

// injectedError is the error a LoseAnswer or FailBefore fault answers.
func (r *Rule) injectedError(method string) error {
	return status.Errorf(r.f.Code, "faultinject: %v on %s", r.f.Action, method)
}

// hold waits for the rule's Delay or Release, or until ctx ends (then it returns ctx's error as
// the status gRPC itself would answer).
func (r *Rule) hold(ctx context.Context) error {
	if r.f.Delay <= 0 && r.f.Release == nil {
		return nil
	}
	var timeout <-chan time.Time
	if r.f.Delay > 0 {
		t := time.NewTimer(r.f.Delay)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return nil
	case <-r.f.Release:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// outlive waits until the caller's context ends and returns the error gRPC answers for it. A
// context without a deadline waits for Delay instead (or not at all), ending early if cancelled.
func (r *Rule) outlive(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		if r.f.Delay <= 0 {
			return status.Error(codes.DeadlineExceeded, "faultinject: the call outlived its deadline (simulated)")
		}
		t := time.NewTimer(r.f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			return status.Error(codes.DeadlineExceeded, "faultinject: the call outlived its deadline (simulated)")
		case <-ctx.Done():
		}
	}
	<-ctx.Done()
	return status.FromContextError(ctx.Err()).Err()
}

// UnaryInterceptor returns the interceptor for unary calls.
func (in *Injector) UnaryInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		r := in.take(method, req)
		if r == nil {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		switch r.f.Action {
		case FailBefore:
			r.took()
			return r.injectedError(method)
		case DelayBefore:
			r.took()
			if err := r.hold(ctx); err != nil {
				return err
			}
			err := invoker(ctx, method, req, reply, cc, opts...)
			r.answered(err)
			return err
		case DelayAfter:
			err := invoker(ctx, method, req, reply, cc, opts...)
			r.answered(err)
			r.took()
			if herr := r.hold(ctx); herr != nil {
				return herr
			}
			return err
		case LoseAnswer:
			err := invoker(ctx, method, req, reply, cc, opts...)
			r.answered(err)
			r.took()
			return r.injectedError(method)
		default: // ApplyThenTimeout
			err := invoker(context.WithoutCancel(ctx), method, req, reply, cc, opts...)
			r.answered(err)
			r.took()
			return r.outlive(ctx)
		}
	}
}

// StreamInterceptor returns the interceptor for server-streaming calls (Firestore's reads:
// BatchGetDocuments, RunQuery, RunAggregationQuery); other streams pass through. The fault is
// chosen when the client sends its first message, which for Firestore's server-streaming reads is
// the request: FailBefore and DelayBefore act there; LoseAnswer and ApplyThenTimeout let the
// server answer in full (draining the stream) and then fail the client's first receive;
// DelayAfter holds the first message received.
func (in *Injector) StreamInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		if desc.ClientStreams {
			// Client-streaming calls (Listen, Write) may send and receive concurrently from the
			// start, which the lazy stream below does not support; they pass through untouched.
			in.mu.Lock()
			in.calls[method]++
			in.mu.Unlock()
			return streamer(ctx, desc, cc, method, opts...)
		}
		open := func(ctx context.Context) (grpc.ClientStream, error) { return streamer(ctx, desc, cc, method, opts...) }
		return &stream{in: in, ctx: ctx, method: method, open: open}, nil
	}
}

// stream opens the real stream on the first SendMsg, once the request is known.
type stream struct {
	in     *Injector
	ctx    context.Context
	method string
	open   func(context.Context) (grpc.ClientStream, error)

	real     grpc.ClientStream
	rule     *Rule
	err      error // the stream's final error once decided by a fault
	received bool  // the first RecvMsg has been handled
}

func (s *stream) SendMsg(m any) error {
	if s.err != nil {
		return s.err
	}
	if s.real == nil {
		s.rule = s.in.take(s.method, m)
		ctx := s.ctx
		if s.rule != nil {
			switch s.rule.f.Action {
			case FailBefore:
				s.rule.took()
				s.err = s.rule.injectedError(s.method)
				return s.err
			case DelayBefore:
				s.rule.took()
				if err := s.rule.hold(ctx); err != nil {
					s.err = err
					return err
				}
			case ApplyThenTimeout:
				ctx = context.WithoutCancel(ctx)
			}
		}
		real, err := s.open(ctx)
		if err != nil {
			s.err = err
			return err
		}
		s.real = real
	}
	return s.real.SendMsg(m)
}

func (s *stream) RecvMsg(m any) error {
	if s.err != nil {
		return s.err
	}
	if s.real == nil {
		return status.Error(codes.Internal, "faultinject: RecvMsg before SendMsg")
	}
	if s.rule == nil || s.received {
		return s.real.RecvMsg(m)
	}
	s.received = true
	r := s.rule
	switch r.f.Action {
	case DelayBefore:
		err := s.real.RecvMsg(m)
		r.answered(endOf(err))
		return err
	case DelayAfter:
		err := s.real.RecvMsg(m)
		r.answered(endOf(err))
		r.took()
		if herr := r.hold(s.ctx); herr != nil {
			s.err = herr
			return herr
		}
		return err
	case LoseAnswer:
		r.answered(drain(s.real, m))
		r.took()
		s.err = r.injectedError(s.method)
		return s.err
	default: // ApplyThenTimeout
		r.answered(drain(s.real, m))
		r.took()
		s.err = r.outlive(s.ctx)
		return s.err
	}
}

// endOf is a stream's error as an answer: io.EOF, the normal end, is success.
func endOf(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// drain receives the rest of the stream into m (its content is discarded) and returns the
// stream's error, nil if it ended normally.
func drain(cs grpc.ClientStream, m any) error {
	for {
		if err := cs.RecvMsg(m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func (s *stream) CloseSend() error {
	if s.real == nil {
		return nil
	}
	return s.real.CloseSend()
}

func (s *stream) Header() (md metadata.MD, err error) {
	if s.real == nil {
		return nil, s.err
	}
	return s.real.Header()
}

func (s *stream) Trailer() metadata.MD {
	if s.real == nil {
		return nil
	}
	return s.real.Trailer()
}

func (s *stream) Context() context.Context {
	if s.real == nil {
		return s.ctx
	}
	return s.real.Context()
}

// DialOptions are the options that put the injector on a gRPC connection.
func (in *Injector) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(in.UnaryInterceptor()),
		grpc.WithChainStreamInterceptor(in.StreamInterceptor()),
	}
}

// Predicates on requests, for Fault.If.

// PlainCommit holds for a Commit outside a transaction: a write batch, or a single document
// write such as DocumentRef.Create.
func PlainCommit(req any) bool {
	c, ok := req.(*pb.CommitRequest)
	return ok && len(c.GetTransaction()) == 0
}

// TransactionalCommit holds for the Commit of a read-write transaction that writes something
// (read-only transactions commit too, without writes).
func TransactionalCommit(req any) bool {
	c, ok := req.(*pb.CommitRequest)
	return ok && len(c.GetTransaction()) > 0 && len(c.GetWrites()) > 0
}

// Writes holds for a Commit that writes (sets, updates, transforms or deletes) a document whose
// full name contains part, e.g. "/shards/".
func Writes(part string) func(req any) bool {
	return func(req any) bool {
		c, ok := req.(*pb.CommitRequest)
		if !ok {
			return false
		}
		for _, w := range c.GetWrites() {
			name := w.GetUpdate().GetName()
			if name == "" {
				name = w.GetDelete()
			}
			if name == "" {
				name = w.GetTransform().GetDocument()
			}
			if strings.Contains(name, part) {
				return true
			}
		}
		return false
	}
}

// All holds when every one of preds holds.
func All(preds ...func(req any) bool) func(req any) bool {
	return func(req any) bool {
		for _, p := range preds {
			if !p(req) {
				return false
			}
		}
		return true
	}
}
