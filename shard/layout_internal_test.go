package shard

import "testing"

// TestBatchRecordID: a BatchIncrement's record id depends on the key and on the set of counters,
// not on their order or repeats, and length prefixes keep (key, set) pairs from running together.
func TestBatchRecordID(t *testing.T) {
	base := batchRecordID("k", []string{"x", "y"})
	if got := batchRecordID("k", []string{"y", "x", "y", "x"}); got != base {
		t.Errorf("reordered and repeated names: id %s, want %s", got, base)
	}
	distinct := map[string][]any{base: {"k", []string{"x", "y"}}}
	for _, tt := range []struct {
		key string
		ids []string
	}{
		{"k", []string{"x"}},
		{"k", []string{"y"}},
		{"k", []string{"x", "y", "z"}},
		{"k", []string{"xy"}},
		{"k", []string{"x\n1:y"}},
		{"k\n1:x", []string{"y"}},
		{"kx", []string{"y"}},
		{"K", []string{"x", "y"}},
		{"", []string{"x", "y"}},
		{"", []string{"k", "x", "y"}},
	} {
		id := batchRecordID(tt.key, tt.ids)
		if prev, ok := distinct[id]; ok {
			t.Errorf("(%q, %q) has the id of %v", tt.key, tt.ids, prev)
		}
		distinct[id] = []any{tt.key, tt.ids}
	}
	if base == keyHash("k") {
		t.Error("the id is the old sha256(key)")
	}
}
