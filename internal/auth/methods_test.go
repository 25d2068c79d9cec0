package auth

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// methodCase is one CounterService method as the table test calls it on counter id, which the
// test seeded with 2 shards and value 5.
type methodCase struct {
	method string
	perm   Permission
	// call calls the method about id and returns the ids of the counters the response holds.
	call func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error)
	// apply is what a successful call does to the counters' state, but for update times.
	apply func(st map[string]counterState, id string)
	// stamps is the counter whose update time a successful call sets.
	stamps func(id string) string
}

// createdID is the counter CreateCounter creates in the table test.
func createdID(id string) string { return id + "-new" }

func names(cs []*tallyv1.Counter) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.GetName())
	}
	return out
}

func name(id string) string { return "counters/" + id }

var methodCases = []methodCase{
	{
		method: tallyv1.CounterService_Increment_FullMethodName, perm: Write,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			_, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: name(id), Delta: 1})
			return nil, err
		},
		apply: func(st map[string]counterState, id string) { s := st[id]; s.Value++; st[id] = s },
	},
	{
		method: tallyv1.CounterService_BatchIncrement_FullMethodName, perm: Write,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			_, err := c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{Requests: []*tallyv1.IncrementRequest{
				{Name: name(id), Delta: 1}, {Name: name(id), Delta: 2},
			}})
			return nil, err
		},
		apply: func(st map[string]counterState, id string) { s := st[id]; s.Value += 3; st[id] = s },
	},
	{
		method: tallyv1.CounterService_GetCounter_FullMethodName, perm: Read,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			resp, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: name(id)})
			return names([]*tallyv1.Counter{resp}), err
		},
	},
	{
		method: tallyv1.CounterService_BatchGetCounters_FullMethodName, perm: Read,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			resp, err := c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{name(id)}})
			return names(resp.GetCounters()), err
		},
	},
	{
		method: tallyv1.CounterService_ListCounters_FullMethodName, perm: Read,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			resp, err := c.ListCounters(ctx, &tallyv1.ListCountersRequest{Prefix: id})
			return names(resp.GetCounters()), err
		},
	},
	{
		method: tallyv1.CounterService_WatchCounter_FullMethodName, perm: Read,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			// The first update, or the refusal, ends the call.
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stream, err := c.WatchCounter(ctx, &tallyv1.WatchCounterRequest{Name: name(id)})
			if err != nil {
				return nil, err
			}
			resp, err := stream.Recv()
			return names([]*tallyv1.Counter{resp.GetCounter()}), err
		},
	},
	{
		method: tallyv1.CounterService_CreateCounter_FullMethodName, perm: Admin,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			resp, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: createdID(id), Counter: &tallyv1.Counter{ShardCount: 3}})
			return names([]*tallyv1.Counter{resp}), err
		},
		apply: func(st map[string]counterState, id string) {
			st[createdID(id)] = counterState{Exists: true, ShardCount: 3}
		},
		stamps: createdID,
	},
	{
		method: tallyv1.CounterService_UpdateCounter_FullMethodName, perm: Admin,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			resp, err := c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
				Counter:    &tallyv1.Counter{Name: name(id), ShardCount: 3},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}},
			})
			return names([]*tallyv1.Counter{resp}), err
		},
		apply:  func(st map[string]counterState, id string) { s := st[id]; s.ShardCount = 3; st[id] = s },
		stamps: func(id string) string { return id },
	},
	{
		method: tallyv1.CounterService_ResetCounter_FullMethodName, perm: Admin,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			_, err := c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: name(id)})
			return nil, err
		},
		apply:  func(st map[string]counterState, id string) { s := st[id]; s.Value = 0; st[id] = s },
		stamps: func(id string) string { return id },
	},
	{
		method: tallyv1.CounterService_DeleteCounter_FullMethodName, perm: Admin,
		call: func(ctx context.Context, c tallyv1.CounterServiceClient, id string) ([]string, error) {
			_, err := c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: name(id)})
			return nil, err
		},
		apply: func(st map[string]counterState, id string) { st[id] = counterState{} },
	},
}

// credentialCase is who calls, and about which counter.
type credentialCase struct {
	name   string
	token  string
	target string // the prefix of the counter the call is about
	// want is the expected code by the permission the method needs.
	want map[Permission]codes.Code
}

func allCodes(c codes.Code) map[Permission]codes.Code {
	return map[Permission]codes.Code{Read: c, Write: c, Admin: c}
}

var credentialCases = []credentialCase{
	{name: "no token", target: "web-", want: allCodes(codes.Unauthenticated)},
	{name: "unknown token", token: tokUnknown, target: "web-", want: allCodes(codes.Unauthenticated)},
	{name: "token outside its prefix", token: tokWebAll, target: "other-", want: allCodes(codes.PermissionDenied)},
	{name: "read-only token", token: tokWebRO, target: "web-",
		want: map[Permission]codes.Code{Read: codes.OK, Write: codes.PermissionDenied, Admin: codes.PermissionDenied}},
	{name: "write-only token", token: tokWebWO, target: "web-",
		want: map[Permission]codes.Code{Read: codes.PermissionDenied, Write: codes.OK, Admin: codes.PermissionDenied}},
	{name: "read-write token", token: tokWebRW, target: "web-",
		want: map[Permission]codes.Code{Read: codes.OK, Write: codes.OK, Admin: codes.PermissionDenied}},
	{name: "valid token within its prefix", token: tokWebAll, target: "web-", want: allCodes(codes.OK)},
	{name: "valid token for every counter", token: tokAdmin, target: "other-", want: allCodes(codes.OK)},
}

// TestMethods calls every CounterService method with every kind of credentials, and checks the
// code and that a refused call changed nothing while an allowed one did what it should.
func TestMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{principals: testPrincipals})
	for mi, mc := range methodCases {
		for ci, cc := range credentialCases {
			t.Run(path.Base(mc.method)+"/"+cc.name, func(t *testing.T) {
				// Counters of their own, so that the cases cannot see each other's effects.
				web, other := fmt.Sprintf("web-%d-%d", mi, ci), fmt.Sprintf("other-%d-%d", mi, ci)
				e.seed(t, web)
				e.seed(t, other)
				ids := []string{web, other, createdID(web), createdID(other)}
				before := e.state(t, ids...)
				target := web
				if cc.target == "other-" {
					target = other
				}

				got, err := mc.call(withToken(testContext(t), cc.token), e.client, target)
				want := cc.want[mc.perm]
				if status.Code(err) != want {
					t.Fatalf("got %v, want %v", err, want)
				}
				after := e.state(t, ids...)
				expect, stamped := maps.Clone(before), ""
				if want == codes.OK && mc.apply != nil {
					mc.apply(expect, target)
				}
				if want == codes.OK && mc.stamps != nil {
					stamped = mc.stamps(target)
				}
				for _, id := range ids {
					got := after[id]
					if id == stamped {
						// The server's clock sets it: later than before is all that can be known.
						if !got.UpdateTime.After(before[id].UpdateTime) {
							t.Errorf("counter %q: update time %v, not after %v", id, got.UpdateTime, before[id].UpdateTime)
						}
						got.UpdateTime = expect[id].UpdateTime
					}
					if !got.equal(expect[id]) {
						t.Errorf("counter %q is %+v after the call, want %+v", id, got, expect[id])
					}
				}
				if want == codes.OK && mc.perm == Read && !slices.Contains(got, name(target)) {
					t.Errorf("the response holds %v, not %q", got, name(target))
				}
			})
		}
	}
}

func (s counterState) equal(o counterState) bool {
	return s.Exists == o.Exists && s.Value == o.Value && s.ShardCount == o.ShardCount && s.UpdateTime.Equal(o.UpdateTime)
}

// TestEveryMethodHasARule: a method added to CounterService must be given a permission here;
// until then it is refused, which this test would not notice.
func TestEveryMethodHasARule(t *testing.T) {
	desc := tallyv1.CounterService_ServiceDesc
	var methods []string
	for _, m := range desc.Methods {
		methods = append(methods, m.MethodName)
	}
	for _, st := range desc.Streams {
		if st.ClientStreams {
			t.Errorf("%s is a client stream, which StreamInterceptor refuses", st.StreamName)
		}
		methods = append(methods, st.StreamName)
	}
	for _, m := range methods {
		full := "/" + desc.ServiceName + "/" + m
		if _, ok := rules[full]; !ok {
			t.Errorf("%s has no rule", full)
		}
		if !slices.ContainsFunc(methodCases, func(mc methodCase) bool { return mc.method == full }) {
			t.Errorf("%s is not in the table test", full)
		}
	}
}
