package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// TestInfoLinesHoldNoValuesOrKeys: tallyd logging JSON at its default level (info) is used the
// way clients use it (keyed and unkeyed increments, a keyed batch increment, reads of single
// counters, of batches and of lists, and the admin operations create, resize, reset and delete);
// its log then holds audit lines, but no idempotency key and no value any read answered.
func TestInfoLinesHoldNoValuesOrKeys(t *testing.T) {
	t.Parallel()
	addr, logs := startTallydLogged(t, "--log-json")
	c := dial(t, addr)
	ctx := t.Context()
	// Keys and values distinctive enough that finding one in the log cannot be a coincidence.
	keys := []string{"k-7f3a9c21e4b8d605", "k-b2d94e7a1c3f8056", "k-5e1c8a3f9b7d2046", "k-reset-9d2e7c4a1b6f"}
	const big, other = 987654321, 123456789

	if _, err := c.CreateCounter(ctx, &tallyv1.CreateCounterRequest{CounterId: "secret-a"}); err != nil {
		t.Fatal(err)
	}
	for _, req := range []*tallyv1.IncrementRequest{
		{Name: "counters/secret-a", Delta: big, IdempotencyKey: keys[0]},
		{Name: "counters/secret-a", Delta: big, IdempotencyKey: keys[0]}, // a retry: a duplicate
		{Name: "counters/secret-b", Delta: other},
	} {
		if _, err := c.Increment(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.BatchIncrement(ctx, &tallyv1.BatchIncrementRequest{IdempotencyKey: keys[1], Requests: []*tallyv1.IncrementRequest{
		{Name: "counters/secret-a", Delta: other}, {Name: "counters/secret-c", Delta: big},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Increment(ctx, &tallyv1.IncrementRequest{Name: "counters/secret-c", Delta: other, IdempotencyKey: keys[2]}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateCounter(ctx, &tallyv1.UpdateCounterRequest{
		Counter:    &tallyv1.Counter{Name: "counters/secret-a", ShardCount: 7},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"shard_count"}},
	}); err != nil {
		t.Fatal(err)
	}

	// Every value read is remembered, to be looked for in the log.
	read := map[int64]bool{}
	got, err := c.GetCounter(ctx, &tallyv1.GetCounterRequest{Name: "counters/secret-a"})
	if err != nil {
		t.Fatal(err)
	}
	read[got.GetValue()] = true
	batch, err := c.BatchGetCounters(ctx, &tallyv1.BatchGetCountersRequest{Names: []string{"counters/secret-b", "counters/secret-c"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, counter := range batch.GetCounters() {
		read[counter.GetValue()] = true
	}
	list, err := c.ListCounters(ctx, &tallyv1.ListCountersRequest{Prefix: "secret-", View: tallyv1.CounterView_COUNTER_VIEW_FULL})
	if err != nil {
		t.Fatal(err)
	}
	for _, counter := range list.GetCounters() {
		read[counter.GetValue()] = true
	}
	want := map[int64]bool{big + other: true, other: true} // a and c: big + other; b: other
	if fmt.Sprint(read) != fmt.Sprint(want) || len(list.GetCounters()) != 3 {
		t.Fatalf("values read %v from %d listed counters; want %v from 3", read, len(list.GetCounters()), want)
	}

	if _, err := c.ResetCounter(ctx, &tallyv1.ResetCounterRequest{Name: "counters/secret-b", IdempotencyKey: keys[3]}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteCounter(ctx, &tallyv1.DeleteCounterRequest{Name: "counters/secret-c"}); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	// The log is the one the operations went to: every admin operation has its audit line.
	audited := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["message"] == "audit" {
			audited[fmt.Sprint(rec["method"])] = true
		}
	}
	for _, m := range []string{"CreateCounter", "UpdateCounter", "ResetCounter", "DeleteCounter"} {
		if !audited["/tally.v1.CounterService/"+m] {
			t.Errorf("no audit line of %s in the log:\n%s", m, out)
		}
	}
	for _, k := range keys {
		if strings.Contains(out, k) {
			t.Errorf("the log holds the idempotency key %s:\n%s", k, out)
		}
	}
	for v := range read {
		if strings.Contains(out, fmt.Sprint(v)) {
			t.Errorf("the log holds the value %d, which a read answered:\n%s", v, out)
		}
	}
	for _, d := range []int64{big, other} {
		if strings.Contains(out, fmt.Sprint(d)) {
			t.Errorf("the log holds the delta %d of an increment:\n%s", d, out)
		}
	}
}
