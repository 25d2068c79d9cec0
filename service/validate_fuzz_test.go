package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// checkingCounters stands in for the core: it applies the core's own argument checks, as
// shard.Counters does, and records the arguments of the last call, answering with a plausible
// result. A request that validation lets through must pass those checks.
type checkingCounters struct {
	called bool
	args   []any
	err    error // the first argument the core would have refused
}

func (c *checkingCounters) record(args ...any) { c.called, c.args = true, args }

func (c *checkingCounters) check(arg string, err error) {
	if err != nil && c.err == nil {
		c.err = fmt.Errorf("the core refuses %s: %v", arg, err)
	}
}

func (c *checkingCounters) checkCount(arg string, n, max int) {
	if (n < 1 || n > max) && c.err == nil {
		c.err = fmt.Errorf("the core refuses %s: %d of 1 to %d", arg, n, max)
	}
}

var fuzzTime = time.Unix(1700000000, 0)

func (c *checkingCounters) counter(id string, shards int) *shard.Counter {
	return &shard.Counter{ID: id, ShardCount: max(shards, 1), CreateTime: fuzzTime, UpdateTime: fuzzTime, ReadTime: fuzzTime}
}

func (c *checkingCounters) Increment(_ context.Context, id string, delta int64, key string) (shard.WriteResult, error) {
	c.record(id, delta, key)
	c.check("id", shard.ValidateCounterID(id))
	c.check("key", shard.ValidateKey(key))
	return shard.WriteResult{CommitTime: fuzzTime}, nil
}

func (c *checkingCounters) BatchIncrement(_ context.Context, deltas []shard.Delta, key string) (shard.WriteResult, error) {
	c.record(slices.Clone(deltas), key)
	c.checkCount("deltas", len(deltas), shard.MaxBatchDeltas)
	c.check("key", shard.ValidateKey(key))
	for i, d := range deltas {
		c.check(fmt.Sprintf("deltas[%d].CounterID", i), shard.ValidateCounterID(d.CounterID))
	}
	return shard.WriteResult{CommitTime: fuzzTime}, nil
}

func (c *checkingCounters) Get(_ context.Context, id string) (*shard.Counter, error) {
	c.record(id)
	c.check("id", shard.ValidateCounterID(id))
	return c.counter(id, 1), nil
}

func (c *checkingCounters) BatchGet(_ context.Context, ids []string) ([]*shard.Counter, error) {
	c.record(slices.Clone(ids))
	c.checkCount("ids", len(ids), shard.MaxBatchGet)
	out := make([]*shard.Counter, len(ids))
	for i, id := range ids {
		c.check(fmt.Sprintf("ids[%d]", i), shard.ValidateCounterID(id))
		out[i] = c.counter(id, 1)
	}
	return out, nil
}

func (c *checkingCounters) GetAt(_ context.Context, id string, at time.Time) (*shard.Counter, error) {
	c.record(id, at)
	c.check("id", shard.ValidateCounterID(id))
	c.checkReadTime(at)
	return c.counter(id, 1), nil
}

func (c *checkingCounters) BatchGetAt(ctx context.Context, ids []string, at time.Time) ([]*shard.Counter, error) {
	out, _ := c.BatchGet(ctx, ids)
	c.record(slices.Clone(ids), at)
	c.checkReadTime(at)
	return out, nil
}

// checkReadTime applies the core's rule for a read time, which the core calls "at"; a zero time
// reads now, and is what Get and BatchGet are for.
func (c *checkingCounters) checkReadTime(at time.Time) {
	if at.IsZero() && c.err == nil {
		c.err = errors.New("the core is asked to read as of the zero time")
	}
	c.check("at", shard.ValidateReadTime(at, time.Now()))
}

func (c *checkingCounters) CreateWith(_ context.Context, id string, set shard.Settings) (*shard.Counter, error) {
	c.record(id, set)
	c.check("id", shard.ValidateCounterID(id))
	c.check("shards", shard.ValidateShards(set.Shards))
	return c.counter(id, set.Shards), nil
}

func (c *checkingCounters) Update(_ context.Context, id string, ch shard.Change) (*shard.Counter, error) {
	c.record(id, changeArgs(ch))
	c.check("id", shard.ValidateCounterID(id))
	shards := 1
	if ch.Shards != nil {
		c.check("shards", shard.ValidateShards(*ch.Shards))
		shards = *ch.Shards
	}
	return c.counter(id, shards), nil
}

// changeArgs spells a Change with the values its pointers point to, for comparing arguments.
func changeArgs(ch shard.Change) string {
	out := "shards:-"
	if ch.Shards != nil {
		out = fmt.Sprintf("shards:%d", *ch.Shards)
	}
	if ch.Adaptive != nil {
		out += fmt.Sprintf(" adaptive:%v", *ch.Adaptive)
	}
	return out
}

func (c *checkingCounters) Reset(_ context.Context, id string, key string) (shard.WriteResult, error) {
	c.record(id, key)
	c.check("id", shard.ValidateCounterID(id))
	c.check("key", shard.ValidateKey(key))
	return shard.WriteResult{CommitTime: fuzzTime}, nil
}

func (c *checkingCounters) Delete(_ context.Context, id string) error {
	c.record(id)
	c.check("id", shard.ValidateCounterID(id))
	return nil
}

var _ Watcher = (*checkingCounters)(nil)

// Watch applies the core's checks and answers that the counter does not exist, which only the
// core answers: a *shard.Watch cannot be made outside shard, and the validation under test is
// over once the core is reached (see watchUntilTheCore).
func (c *checkingCounters) Watch(_ context.Context, id string, minInterval time.Duration) (*shard.Watch, error) {
	c.record(id, minInterval)
	c.check("id", shard.ValidateCounterID(id))
	if minInterval < 0 {
		c.check("minInterval", fmt.Errorf("%v is negative", minInterval))
	}
	return nil, fmt.Errorf("counter %q: %w", id, shard.ErrNotFound)
}

// fuzzWatchStream is the stream of a WatchCounter call that ends before its first update.
type fuzzWatchStream struct {
	grpc.ServerStream // nil: WatchCounter uses only Context before the core answers
}

func (fuzzWatchStream) Context() context.Context { return context.Background() }

func (fuzzWatchStream) Send(*tallyv1.WatchCounterResponse) error {
	return errors.New("an update was sent, although the core answered NOT_FOUND")
}

// watchUntilTheCore calls WatchCounter, which ends with the core's NOT_FOUND when validation
// lets the request through (nil then), and otherwise with the refusal.
func watchUntilTheCore(s *Server, req *tallyv1.WatchCounterRequest) error {
	err := s.WatchCounter(req, fuzzWatchStream{})
	if status.Code(err) == codes.NotFound {
		return nil
	}
	return err
}

func (c *checkingCounters) List(_ context.Context, opts shard.ListOptions) ([]*shard.Counter, string, error) {
	c.record(opts)
	c.check("opts.Prefix", shard.ValidatePrefix(opts.Prefix))
	if opts.PageSize < 1 || opts.PageSize > shard.MaxPageSize {
		c.check("opts.PageSize", fmt.Errorf("%d is not within 1 to %d", opts.PageSize, shard.MaxPageSize))
	}
	return nil, "", nil
}

// The rules a request's fields must follow, restated from the API's documentation in terms of
// the core's rules: a name is counters/{counter_id}.
func nameOK(name string) bool {
	id, ok := strings.CutPrefix(name, namePrefix)
	return ok && shard.ValidateCounterID(id) == nil
}

func keyOK(key string) bool { return shard.ValidateKey(key) == nil }

// readTimeOK: an unset read_time reads now; a set one is a valid timestamp after the Unix epoch,
// not in the future, and a whole minute if more than an hour ago.
func readTimeOK(ts *timestamppb.Timestamp) bool {
	if ts == nil {
		return true
	}
	if ts.CheckValid() != nil {
		return false
	}
	at, now := ts.AsTime(), time.Now()
	at = at.Truncate(time.Microsecond)
	return at.After(time.Unix(0, 0)) && !at.After(now) && (now.Sub(at) <= time.Hour || at.Second() == 0 && at.Nanosecond() == 0)
}

// minIntervalOK: an unset min_interval takes the server's default; a set one is a valid
// duration (protobuf's range and signs) that is not negative.
func minIntervalOK(d *durationpb.Duration) bool {
	return d == nil || d.CheckValid() == nil && d.AsDuration() >= 0
}

// readArgs are the arguments a read reaches the core with: args, then the read time if one is set.
func readArgs(ts *timestamppb.Timestamp, args ...any) []any {
	if ts != nil {
		args = append(args, ts.AsTime())
	}
	return args
}

// fuzzedRequest is one request of any method, with what the API promises about it.
type fuzzedRequest struct {
	msg proto.Message
	// call sends the request to s and returns the response.
	call func(s *Server) (proto.Message, error)
	// invalid lists the fields of the request that break a rule, with the arguments the core
	// must receive (want) when there are none.
	invalid map[string]bool
	want    []any
	// answer checks the response of a successful call.
	answer func(t *testing.T, resp proto.Message)
}

func idOf(name string) string { return strings.TrimPrefix(name, namePrefix) }

// fuzzMethods is the number of methods fuzzRequest chooses from.
const fuzzMethods = 10

// fuzzRequest decodes data as a request of method (below fuzzMethods), as the server's codec
// does, and states which of its fields are invalid for a server with the given batch limit.
func fuzzRequest(method byte, data []byte, limit int) (*fuzzedRequest, bool) {
	bad := map[string]bool{}
	setIf := func(field string, cond bool) {
		if cond {
			bad[field] = true
		}
	}
	sameName := func(name string) func(t *testing.T, resp proto.Message) {
		return func(t *testing.T, resp proto.Message) {
			if got := resp.(*tallyv1.Counter).GetName(); got != name {
				t.Fatalf("the response names %q, the request %q", got, name)
			}
		}
	}
	noCheck := func(*testing.T, proto.Message) {}
	switch method {
	case 0:
		req := &tallyv1.IncrementRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		setIf("name", !nameOK(req.GetName()))
		setIf("idempotency_key", !keyOK(req.GetIdempotencyKey()))
		return &fuzzedRequest{msg: req, invalid: bad, answer: noCheck,
			want: []any{idOf(req.GetName()), req.GetDelta(), req.GetIdempotencyKey()},
			call: func(s *Server) (proto.Message, error) { return s.Increment(context.Background(), req) }}, true
	case 1:
		req := &tallyv1.BatchIncrementRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		n := len(req.GetRequests())
		setIf("requests", n == 0 || n > limit)
		setIf("idempotency_key", !keyOK(req.GetIdempotencyKey()))
		var deltas []shard.Delta
		for i, r := range req.GetRequests() {
			setIf(fmt.Sprintf("requests[%d].name", i), !nameOK(r.GetName()))
			setIf(fmt.Sprintf("requests[%d].idempotency_key", i), r.GetIdempotencyKey() != "")
			deltas = append(deltas, shard.Delta{CounterID: idOf(r.GetName()), Delta: r.GetDelta()})
		}
		return &fuzzedRequest{msg: req, invalid: bad, answer: noCheck, want: []any{deltas, req.GetIdempotencyKey()},
			call: func(s *Server) (proto.Message, error) { return s.BatchIncrement(context.Background(), req) }}, true
	case 2:
		req := &tallyv1.GetCounterRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		setIf("name", !nameOK(req.GetName()))
		setIf("read_time", !readTimeOK(req.GetReadTime()))
		return &fuzzedRequest{msg: req, invalid: bad, answer: sameName(req.GetName()), want: readArgs(req.GetReadTime(), idOf(req.GetName())),
			call: func(s *Server) (proto.Message, error) { return s.GetCounter(context.Background(), req) }}, true
	case 3:
		req := &tallyv1.BatchGetCountersRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		n := len(req.GetNames())
		setIf("names", n == 0 || n > limit)
		var ids []string
		for i, name := range req.GetNames() {
			setIf(fmt.Sprintf("names[%d]", i), !nameOK(name))
			ids = append(ids, idOf(name))
		}
		setIf("read_time", !readTimeOK(req.GetReadTime()))
		answer := func(t *testing.T, resp proto.Message) {
			var got []string
			for _, c := range resp.(*tallyv1.BatchGetCountersResponse).GetCounters() {
				got = append(got, c.GetName())
			}
			if !slices.Equal(got, req.GetNames()) {
				t.Fatalf("the response names %q, the request %q", got, req.GetNames())
			}
		}
		return &fuzzedRequest{msg: req, invalid: bad, answer: answer, want: readArgs(req.GetReadTime(), ids),
			call: func(s *Server) (proto.Message, error) { return s.BatchGetCounters(context.Background(), req) }}, true
	case 4:
		req := &tallyv1.CreateCounterRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		setIf("counter_id", shard.ValidateCounterID(req.GetCounterId()) != nil)
		shards := int(req.GetCounter().GetShardCount())
		setIf("counter.shard_count", shards < 0 || shards > shard.MaxShards)
		set := shard.Settings{Shards: shards, Adaptive: req.GetCounter().GetAdaptiveShards()}
		return &fuzzedRequest{msg: req, invalid: bad, answer: sameName(namePrefix + req.GetCounterId()), want: []any{req.GetCounterId(), set},
			call: func(s *Server) (proto.Message, error) { return s.CreateCounter(context.Background(), req) }}, true
	case 5:
		req := &tallyv1.UpdateCounterRequest{}
		if unmarshalUpdateRequest(data, req) != nil {
			return nil, false
		}
		c := req.GetCounter()
		setIf("counter", c == nil)
		var ch shard.Change
		if c != nil {
			setIf("counter.name", !nameOK(c.GetName()))
			paths := req.GetUpdateMask().GetPaths()
			if len(paths) == 0 {
				paths = []string{"shard_count"} // an empty mask means shard_count
			}
			for i, p := range paths {
				setIf(fmt.Sprintf("update_mask.paths[%d]", i), p != "shard_count" && p != "adaptive_shards")
				switch p {
				case "shard_count":
					n := int(c.GetShardCount())
					ch.Shards = &n
				case "adaptive_shards":
					on := c.GetAdaptiveShards()
					ch.Adaptive = &on
				}
			}
			// shard_count is checked only when the mask names it.
			setIf("counter.shard_count", ch.Shards != nil && (*ch.Shards < 0 || *ch.Shards > shard.MaxShards))
		}
		return &fuzzedRequest{msg: req, invalid: bad, answer: sameName(c.GetName()), want: []any{idOf(c.GetName()), changeArgs(ch)},
			call: func(s *Server) (proto.Message, error) { return s.UpdateCounter(context.Background(), req) }}, true
	case 6:
		req := &tallyv1.ResetCounterRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		setIf("name", !nameOK(req.GetName()))
		setIf("idempotency_key", !keyOK(req.GetIdempotencyKey()))
		return &fuzzedRequest{msg: req, invalid: bad, answer: noCheck, want: []any{idOf(req.GetName()), req.GetIdempotencyKey()},
			call: func(s *Server) (proto.Message, error) { return s.ResetCounter(context.Background(), req) }}, true
	case 7:
		req := &tallyv1.DeleteCounterRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		setIf("name", !nameOK(req.GetName()))
		return &fuzzedRequest{msg: req, invalid: bad, answer: noCheck, want: []any{idOf(req.GetName())},
			call: func(s *Server) (proto.Message, error) { return s.DeleteCounter(context.Background(), req) }}, true
	case 9:
		req := &tallyv1.WatchCounterRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		setIf("name", !nameOK(req.GetName()))
		setIf("min_interval", !minIntervalOK(req.GetMinInterval()))
		// An unset interval reaches the core as 0, the server's default.
		return &fuzzedRequest{msg: req, invalid: bad, answer: noCheck, want: []any{idOf(req.GetName()), req.GetMinInterval().AsDuration()},
			call: func(s *Server) (proto.Message, error) { return nil, watchUntilTheCore(s, req) }}, true
	default:
		req := &tallyv1.ListCountersRequest{}
		if proto.Unmarshal(data, req) != nil {
			return nil, false
		}
		setIf("prefix", shard.ValidatePrefix(req.GetPrefix()) != nil)
		setIf("page_size", req.GetPageSize() < 0)
		view := req.GetView()
		setIf("view", view != tallyv1.CounterView_COUNTER_VIEW_UNSPECIFIED && view != tallyv1.CounterView_COUNTER_VIEW_BASIC && view != tallyv1.CounterView_COUNTER_VIEW_FULL)
		size := int(req.GetPageSize())
		switch {
		case size == 0:
			size = shard.DefaultPageSize
		case size > shard.MaxPageSize:
			size = shard.MaxPageSize
		}
		opts := shard.ListOptions{Prefix: req.GetPrefix(), PageSize: size, PageToken: req.GetPageToken(), WithValues: view == tallyv1.CounterView_COUNTER_VIEW_FULL}
		return &fuzzedRequest{msg: req, invalid: bad, answer: noCheck, want: []any{opts},
			call: func(s *Server) (proto.Message, error) { return s.ListCounters(context.Background(), req) }}, true
	}
}

// maxMessageBytes bounds a rejection's status message, which travels in a trailer beside the
// BadRequest detail that repeats it: a field name, the rule, and at most 64 bytes of the
// rejected value, quoted (up to 4 bytes each).
const maxMessageBytes = 64*4 + 192

// fieldPattern is every field a rejection may name.
var fieldPattern = regexp.MustCompile(`^(name|idempotency_key|requests|requests\[\d+\]\.(name|idempotency_key)|names|names\[\d+\]|counter_id|counter|counter\.(name|shard_count)|update_mask\.paths\[\d+\]|prefix|page_size|page_token|view|read_time|min_interval)$`)

// FuzzValidateRequest sends requests of every method, decoded from the input as the server's
// codec decodes them, to a server whose core applies its own argument checks. A request with no
// field breaking the documented rules reaches the core with the arguments it spells, which the
// core accepts; any other is answered with INVALID_ARGUMENT and one google.rpc.BadRequest field
// violation naming a field that does break a rule, without reaching the core.
func FuzzValidateRequest(f *testing.F) {
	long := strings.Repeat("x", 1501)
	seeds := []struct {
		method byte
		msg    proto.Message
	}{
		{0, &tallyv1.IncrementRequest{Name: "counters/a", Delta: 5, IdempotencyKey: "k1"}},
		{0, &tallyv1.IncrementRequest{Name: "counters/__x__", Delta: -1}},
		{0, &tallyv1.IncrementRequest{Name: "counters/a", IdempotencyKey: "k\xc3("}},
		{1, &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{{Name: "counters/a", Delta: 1}, {Name: "counters/b", Delta: 2}}, IdempotencyKey: "k"}},
		{1, &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{{Name: "counters/a", IdempotencyKey: "k"}}}},
		{1, &tallyv1.BatchIncrementRequest{}},
		{2, &tallyv1.GetCounterRequest{Name: "counters/a/b"}},
		{2, &tallyv1.GetCounterRequest{Name: "counters/" + long}},
		{2, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: timestamppb.New(time.Now().Add(-10 * time.Minute))}},
		{2, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: timestamppb.New(time.Now().Add(time.Hour))}},
		{2, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: timestamppb.New(time.Now().Add(-49 * time.Hour).Truncate(time.Minute))}},
		{2, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: &timestamppb.Timestamp{Seconds: time.Now().Add(-2 * time.Hour).Unix(), Nanos: 1500}}},
		{2, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: &timestamppb.Timestamp{}}},
		{2, &tallyv1.GetCounterRequest{Name: "counters/a", ReadTime: &timestamppb.Timestamp{Nanos: -1}}},
		{3, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/.", "counters/b"}}},
		{3, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/a", "counters/b"}, ReadTime: timestamppb.New(time.Now().Add(-time.Minute))}},
		{4, &tallyv1.CreateCounterRequest{CounterId: "a", Counter: &tallyv1.Counter{ShardCount: 16}}},
		{4, &tallyv1.CreateCounterRequest{CounterId: "..", Counter: &tallyv1.Counter{ShardCount: 1001}}},
		{5, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: 8}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}}}},
		{5, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: -1}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"value"}}}},
		{5, &tallyv1.UpdateCounterRequest{}},
		{5, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: -3, AdaptiveShards: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"adaptive_shards"}}}},
		{5, &tallyv1.UpdateCounterRequest{Counter: &tallyv1.Counter{Name: "counters/a", ShardCount: 2}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"adaptive_shards", "shard_count"}}}},
		{4, &tallyv1.CreateCounterRequest{CounterId: "a", Counter: &tallyv1.Counter{ShardCount: 1, AdaptiveShards: true}}},
		{6, &tallyv1.ResetCounterRequest{Name: "counters/a", IdempotencyKey: strings.Repeat("k", 1501)}},
		{7, &tallyv1.DeleteCounterRequest{Name: "gauges/a"}},
		{8, &tallyv1.ListCountersRequest{Prefix: "a", PageSize: 2000, PageToken: "t", View: tallyv1.CounterView_COUNTER_VIEW_FULL}},
		{8, &tallyv1.ListCountersRequest{Prefix: "a/", PageSize: -1, View: 7}},
		{9, &tallyv1.WatchCounterRequest{Name: "counters/a"}},
		{9, &tallyv1.WatchCounterRequest{Name: "counters/a", MinInterval: durationpb.New(1500 * time.Millisecond)}},
		{9, &tallyv1.WatchCounterRequest{Name: "counters/a", MinInterval: &durationpb.Duration{}}},
		{9, &tallyv1.WatchCounterRequest{Name: "counters/a", MinInterval: durationpb.New(-time.Nanosecond)}},
		{9, &tallyv1.WatchCounterRequest{Name: "counters/a", MinInterval: &durationpb.Duration{Seconds: 1, Nanos: -1}}},
		{9, &tallyv1.WatchCounterRequest{Name: "counters/a", MinInterval: &durationpb.Duration{Seconds: 315576000001}}},
		{9, &tallyv1.WatchCounterRequest{Name: "counters/a/b", MinInterval: durationpb.New(-time.Second)}},
		{9, &tallyv1.WatchCounterRequest{Name: "counters/\xff"}},
	}
	for _, s := range seeds {
		f.Add(s.method, mustMarshal(f, s.msg))
	}
	f.Add(byte(5), cat(wireMessage(1, wireString(1, "counters/a")), wireMask("\xff")))
	f.Add(byte(13), cat(wireString(1, "counters/\xff"), wireVarint(2, 1)))

	silent := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, method byte, data []byte) {
		// The low 7 bits choose the method; the high bit, a configured limit below the API's.
		m := (method & 0x7f) % fuzzMethods
		limit := shard.MaxBatchGet
		if m == 1 {
			limit = shard.MaxBatchDeltas
		}
		maxBatchNames := 0
		if method&0x80 != 0 {
			maxBatchNames, limit = 3, 3
		}
		r, ok := fuzzRequest(m, data, limit)
		if !ok {
			return // gRPC refuses a request that does not decode before any handler runs
		}
		core := &checkingCounters{}
		srv := New(Options{Counters: core, Logger: silent, MaxBatchNames: maxBatchNames})
		resp, err := r.call(srv)
		if err == nil {
			if len(r.invalid) != 0 {
				t.Fatalf("%v is accepted, but these fields break a rule: %v", r.msg, r.invalid)
			}
			if !core.called {
				t.Fatalf("%v is accepted without reaching the core", r.msg)
			}
			if core.err != nil {
				t.Fatalf("%v is accepted, but %v", r.msg, core.err)
			}
			if fmt.Sprint(core.args) != fmt.Sprint(r.want) {
				t.Fatalf("%v reaches the core as %q, want %q", r.msg, core.args, r.want)
			}
			r.answer(t, resp)
			return
		}
		if core.called {
			t.Fatalf("%v is refused (%v) after reaching the core", r.msg, err)
		}
		st, isStatus := status.FromError(err)
		if !isStatus || st.Code() != codes.InvalidArgument {
			t.Fatalf("%v is refused with %v, want INVALID_ARGUMENT", r.msg, err)
		}
		if !utf8.ValidString(st.Message()) || len(st.Message()) > maxMessageBytes {
			t.Fatalf("%.200v: the message is not valid UTF-8 or is %d bytes: %.200q", r.msg, len(st.Message()), st.Message())
		}
		var violations []*errdetails.BadRequest_FieldViolation
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				violations = append(violations, br.GetFieldViolations()...)
			}
		}
		if len(violations) != 1 {
			t.Fatalf("%v is refused with %v, details %v: want one field violation", r.msg, err, st.Details())
		}
		field := violations[0].GetField()
		if !fieldPattern.MatchString(field) || !strings.HasPrefix(st.Message(), field+": ") || violations[0].GetDescription() == "" {
			t.Fatalf("%v is refused naming field %q, message %q", r.msg, field, st.Message())
		}
		if !r.invalid[field] {
			t.Fatalf("%v is refused naming %q (%s), which follows the rules; the fields that break one: %v", r.msg, field, st.Message(), r.invalid)
		}
	})
}

// FuzzCounterName checks counter names both ways: parseName accepts exactly
// counters/{counter_id} with an id the core accepts and returns that id, and every id the core
// accepts names a counter whose name parses back to it.
func FuzzCounterName(f *testing.F) {
	for _, seed := range []string{"counters/a", "counters/", "counters", "counters//", "counters/a/b", "/counters/a",
		"counters/__x__", "counters/.", "counters/é", "counters/\xff", "counters/counters/a", "a", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, err := parseName("name", name)
		var fe *fieldError
		switch {
		case err != nil && !errors.As(err, &fe):
			t.Fatalf("parseName(%q) = %v, not a field error", name, err)
		case err != nil && fe.field != "name":
			t.Fatalf("parseName(%q) names field %q", name, fe.field)
		case (err == nil) != nameOK(name):
			t.Fatalf("parseName(%q) = %q, %v; the rules say valid = %v", name, id, err, nameOK(name))
		case err == nil && resourceName(id) != name:
			t.Fatalf("parseName(%q) = %q, which names %q", name, id, resourceName(id))
		}
		// The input as an id.
		if shard.ValidateCounterID(name) != nil {
			return
		}
		back, err := parseName("name", resourceName(name))
		if err != nil || back != name {
			t.Fatalf("id %q: its name %q parses to %q, %v", name, resourceName(name), back, err)
		}
	})
}
