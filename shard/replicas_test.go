package shard_test

// The multi-replica model test: three shard.Counters, as three servers would be, each with its own
// Firestore client and cache, share one emulator. Random operations of every kind go one at a
// time through a random replica, over a few counters so that they collide, and every answer is
// checked against an exact in-memory model of the semantics. Replicas' caches go stale all the
// time (another replica deleted, re-created, resized or reset the counter), which is what the
// model checks the store against.
//
//	TALLY_REPLICA_SEEDS=7,8   run these seeds (default 1,2,3)
//	TALLY_REPLICA_OPS=20000   operations per seed (default 2,000; 300 with -short)

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tally-dev/tally/emulator"
	"github.com/tally-dev/tally/emulator/emulatortest"
	"github.com/tally-dev/tally/shard"
)

const (
	envReplicaSeeds = "TALLY_REPLICA_SEEDS"
	envReplicaOps   = "TALLY_REPLICA_OPS"
)

// replicaSeeds returns the seeds to run: from TALLY_REPLICA_SEEDS, else 1, 2 and 3.
func replicaSeeds(t *testing.T) []uint64 {
	v := os.Getenv(envReplicaSeeds)
	if v == "" {
		return []uint64{1, 2, 3}
	}
	var seeds []uint64
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", envReplicaSeeds, v, err)
		}
		seeds = append(seeds, n)
	}
	return seeds
}

func replicaOps(t *testing.T) int {
	if v := os.Getenv(envReplicaOps); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", envReplicaOps, v)
		}
		return n
	}
	if testing.Short() {
		return 300
	}
	return 2000
}

// modelShards is the replicas' DefaultShards: small, so that counters have few shards and writes
// through different replicas collide on them.
const modelShards = 4

var modelIDs = []string{"c0", "c1", "c2", "c3"}

// The model.

type modelCounter struct {
	value  int64
	shards int
}

// modelRecord is an idempotency record: what the key was first used for and when.
type modelRecord struct {
	fingerprint string // "increment:<delta>", "reset", or a batch's canonical totals
	commitTime  time.Time
	deltas      []shard.Delta // a batch's deltas as first sent, to re-send them
	key         string        // a batch's key
}

type model struct {
	counters map[string]*modelCounter
	// records of keyed Increments and Resets, by counter and key. They outlive the counter: a
	// delete does not remove them.
	records map[string]map[string]modelRecord
	batches map[string]modelRecord // records of keyed BatchIncrements, by batchScope
}

// batchScope is what a BatchIncrement's key is scoped to: the key and the set of counters the
// batch names (the order and repeats of the names do not matter).
func batchScope(key string, deltas []shard.Delta) string {
	var ids []string
	for _, d := range deltas {
		ids = append(ids, d.CounterID)
	}
	return fmt.Sprintf("%q %q", key, slices.Compact(slices.Sorted(slices.Values(ids))))
}

func newModel() *model {
	return &model{counters: map[string]*modelCounter{}, records: map[string]map[string]modelRecord{}, batches: map[string]modelRecord{}}
}

func (m *model) record(id, key string, r modelRecord) {
	if m.records[id] == nil {
		m.records[id] = map[string]modelRecord{}
	}
	m.records[id][key] = r
}

func incrementFP(delta int64) string { return "increment:" + strconv.FormatInt(delta, 10) }

const resetFP = "reset"

// batchTotals adds up a batch's deltas per counter. partial reports that a running sum left
// int64 on the way; overflow that a final total does not fit; the fingerprint (counters in order,
// zero totals included) is meaningful only without overflow.
func batchTotals(deltas []shard.Delta) (totals map[string]int64, fingerprint string, partial, overflow bool) {
	totals = map[string]int64{}
	exact := map[string]*big.Int{}
	for _, d := range deltas {
		if exact[d.CounterID] == nil {
			exact[d.CounterID] = new(big.Int)
		}
		exact[d.CounterID].Add(exact[d.CounterID], big.NewInt(d.Delta))
		if !exact[d.CounterID].IsInt64() {
			partial = true
		}
	}
	var fp strings.Builder
	for _, id := range slices.Sorted(maps.Keys(exact)) {
		if !exact[id].IsInt64() {
			overflow = true
			continue
		}
		totals[id] = exact[id].Int64()
		fmt.Fprintf(&fp, "%s=%d;", id, totals[id])
	}
	return totals, fp.String(), partial && !overflow, overflow
}

func fits(a, b int64) bool {
	s := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
	return s.IsInt64()
}

// Operations.

type opKind int

const (
	opIncrement opKind = iota
	opBatchIncrement
	opGet
	opBatchGet
	opCreate
	opResize
	opReset
	opDelete
)

type modelOp struct {
	kind    opKind
	replica int
	id      string
	delta   int64
	key     string
	shards  int
	deltas  []shard.Delta
	ids     []string
}

func (o modelOp) String() string {
	r := fmt.Sprintf("replica %d: ", o.replica)
	switch o.kind {
	case opIncrement:
		return r + fmt.Sprintf("Increment(%s, %d, %q)", o.id, o.delta, o.key)
	case opBatchIncrement:
		var parts []string
		for _, d := range o.deltas {
			parts = append(parts, fmt.Sprintf("%s%+d", d.CounterID, d.Delta))
		}
		return r + fmt.Sprintf("BatchIncrement([%s], %q)", strings.Join(parts, " "), o.key)
	case opGet:
		return r + fmt.Sprintf("Get(%s)", o.id)
	case opBatchGet:
		return r + fmt.Sprintf("BatchGet(%v)", o.ids)
	case opCreate:
		return r + fmt.Sprintf("Create(%s, %d)", o.id, o.shards)
	case opResize:
		return r + fmt.Sprintf("Resize(%s, %d)", o.id, o.shards)
	case opReset:
		return r + fmt.Sprintf("Reset(%s, %q)", o.id, o.key)
	case opDelete:
		return r + fmt.Sprintf("Delete(%s)", o.id)
	}
	return "?"
}

// touches is the counters an operation names.
func (o modelOp) touches() []string {
	switch o.kind {
	case opBatchIncrement:
		var ids []string
		for _, d := range o.deltas {
			ids = append(ids, d.CounterID)
		}
		return ids
	case opBatchGet:
		return o.ids
	}
	return []string{o.id}
}

// opGen draws operations; what it draws depends only on its random source and the model, so a
// seed replays the same operations as long as the store answers as the model does.
type opGen struct {
	rng  *rand.Rand
	huge bool // draw deltas near the int64 bounds now and then
	n    int  // operations drawn, for fresh keys
}

func (g *opGen) id() string { return modelIDs[g.rng.IntN(len(modelIDs))] }

func (g *opGen) delta() int64 {
	if g.huge && g.rng.IntN(12) == 0 {
		switch g.rng.IntN(4) {
		case 0:
			return math.MaxInt64 - g.rng.Int64N(3)
		case 1:
			return math.MinInt64 + g.rng.Int64N(3)
		case 2:
			return 1 << 62
		default:
			return -1 << 62
		}
	}
	return g.rng.Int64N(21) - 10
}

func (g *opGen) freshKey() string { return fmt.Sprintf("k%d", g.n) }

// recordKeys returns the keys recorded for counter id whose fingerprint passes keep, in order.
func recordKeys(m *model, id string, keep func(modelRecord) bool) []string {
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(m.records[id])) {
		if keep(m.records[id][k]) {
			keys = append(keys, k)
		}
	}
	return keys
}

func isIncrement(r modelRecord) bool { return strings.HasPrefix(r.fingerprint, "increment:") }
func isReset(r modelRecord) bool     { return r.fingerprint == resetFP }

func (g *opGen) next(m *model) modelOp {
	g.n++
	o := modelOp{replica: g.rng.IntN(3), id: g.id()}
	pick := func(keys []string) (string, bool) {
		if len(keys) == 0 {
			return "", false
		}
		return keys[g.rng.IntN(len(keys))], true
	}
	switch w := g.rng.IntN(100); {
	case w < 20: // unkeyed increment
		o.kind, o.delta = opIncrement, g.delta()
	case w < 34: // keyed increment, fresh key
		o.kind, o.delta, o.key = opIncrement, g.delta(), g.freshKey()
	case w < 42: // re-sent key, same request
		o.kind, o.delta, o.key = opIncrement, g.delta(), g.freshKey()
		if k, ok := pick(recordKeys(m, o.id, isIncrement)); ok {
			o.key = k
			o.delta, _ = strconv.ParseInt(strings.TrimPrefix(m.records[o.id][k].fingerprint, "increment:"), 10, 64)
		}
	case w < 46: // re-sent key, another request (another delta, or a reset's key)
		o.kind, o.delta, o.key = opIncrement, g.delta(), g.freshKey()
		if k, ok := pick(recordKeys(m, o.id, func(modelRecord) bool { return true })); ok {
			o.key = k
			if m.records[o.id][k].fingerprint == incrementFP(o.delta) {
				o.delta++
			}
		}
	case w < 56: // batch increment: unkeyed, fresh key, re-sent (reordered), or another batch with a used key
		o.kind = opBatchIncrement
		for range 1 + g.rng.IntN(4) {
			o.deltas = append(o.deltas, shard.Delta{CounterID: g.id(), Delta: g.delta()})
		}
		scopes := slices.Sorted(maps.Keys(m.batches))
		switch v := g.rng.IntN(12); {
		case v < 4:
		case v < 7:
			o.key = g.freshKey()
		case len(scopes) == 0:
			o.key = g.freshKey()
		case v < 9:
			scope, _ := pick(scopes)
			o.key, o.deltas = m.batches[scope].key, slices.Clone(m.batches[scope].deltas)
			g.rng.Shuffle(len(o.deltas), func(i, j int) { o.deltas[i], o.deltas[j] = o.deltas[j], o.deltas[i] })
		case v < 10: // the same counters, another delta on one: the key is reused
			scope, _ := pick(scopes)
			o.key, o.deltas = m.batches[scope].key, slices.Clone(m.batches[scope].deltas)
			o.deltas = append(o.deltas, shard.Delta{CounterID: o.deltas[g.rng.IntN(len(o.deltas))].CounterID, Delta: 1})
		case v < 11: // one more delta, on a counter in the set or not
			scope, _ := pick(scopes)
			o.key, o.deltas = m.batches[scope].key, slices.Clone(m.batches[scope].deltas)
			o.deltas = append(o.deltas, shard.Delta{CounterID: g.id(), Delta: 1})
		default: // the key of a batch, on counters of its own choosing
			scope, _ := pick(scopes)
			o.key = m.batches[scope].key
		}
	case w < 64:
		o.kind = opGet
	case w < 69:
		o.kind = opBatchGet
		for range 1 + g.rng.IntN(3) {
			o.ids = append(o.ids, g.id())
		}
	case w < 75:
		o.kind, o.shards = opCreate, g.rng.IntN(9)
	case w < 81:
		o.kind, o.shards = opResize, g.rng.IntN(9)
	case w < 91: // reset: unkeyed, fresh key, re-sent reset key, or an increment's key
		o.kind = opReset
		switch v := g.rng.IntN(10); {
		case v < 4:
		case v < 7:
			o.key = g.freshKey()
		case v < 9:
			o.key, _ = pick(recordKeys(m, o.id, isReset))
		default:
			o.key, _ = pick(recordKeys(m, o.id, isIncrement))
		}
	default:
		o.kind = opDelete
	}
	return o
}

// replicaRun is one seed's run: the replicas, the model and what has been done.
type replicaRun struct {
	t       *testing.T
	seed    uint64
	stores  []*shard.Counters
	m       *model
	history []historyEntry // every operation and its answer, for failure messages
	index   int            // of the operation being checked
	op      modelOp
	// past holds every counter read, as read: checkPast reads each again as of its read time.
	past []shard.Counter
}

type historyEntry struct {
	ids  []string // the counters the operation named
	text string   // the operation and its answer
}

// begin records o as the operation being checked.
func (r *replicaRun) begin(label string, o modelOp) {
	r.op = o
	r.history = append(r.history, historyEntry{ids: o.touches(), text: fmt.Sprintf("%s %v", label, o)})
}

// fail stops the run: the model and the store disagree, so later answers would say nothing.
func (r *replicaRun) fail(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("seed %d, operation #%d %v: %s\n(rerun with %s=%d)\nrecent operations on %v:\n%s",
		r.seed, r.index, r.op, fmt.Sprintf(format, args...), envReplicaSeeds, r.seed, r.op.touches(), r.recent(r.op.touches(), 15))
}

// recent returns the last n operations in the history that named one of ids.
func (r *replicaRun) recent(ids []string, n int) string {
	var out []string
	for i := len(r.history) - 1; i >= 0 && len(out) < n; i-- {
		if slices.ContainsFunc(r.history[i].ids, func(id string) bool { return slices.Contains(ids, id) }) {
			out = append(out, "  "+r.history[i].text)
		}
	}
	slices.Reverse(out)
	return strings.Join(out, "\n")
}

// wantErr checks that err is want (nil: success).
func (r *replicaRun) wantErr(err, want error) {
	r.t.Helper()
	if want == nil && err != nil {
		r.fail("got error %v, want success", err)
	}
	if want != nil && !errors.Is(err, want) {
		r.fail("got %v, want %v", err, want)
	}
}

func (r *replicaRun) wantFresh(res shard.WriteResult) {
	r.t.Helper()
	if res.Duplicate || res.CommitTime.IsZero() {
		r.fail("answered %+v, want a fresh write with its commit time", res)
	}
}

func (r *replicaRun) wantDuplicate(res shard.WriteResult, rec modelRecord) {
	r.t.Helper()
	if !res.Duplicate || !res.CommitTime.Equal(rec.commitTime) {
		r.fail("answered %+v, want a duplicate with the original commit time %v", res, rec.commitTime)
	}
}

func (r *replicaRun) wantCounter(c *shard.Counter, id string, mc *modelCounter) {
	r.t.Helper()
	if c == nil || c.ID != id || c.Value != mc.value || c.ShardCount != mc.shards {
		r.fail("read %+v, want %s = %d on %d shards", c, id, mc.value, mc.shards)
	}
}

func (r *replicaRun) step(ctx context.Context) {
	r.t.Helper()
	o, m := r.op, r.m
	s := r.stores[o.replica]
	switch o.kind {
	case opIncrement:
		res, err := s.Increment(ctx, o.id, o.delta, o.key)
		r.note(res, err)
		if rec, ok := m.records[o.id][o.key]; ok && o.key != "" {
			if rec.fingerprint != incrementFP(o.delta) {
				r.wantErr(err, shard.ErrKeyReused)
				return
			}
			r.wantErr(err, nil)
			r.wantDuplicate(res, rec) // and nothing changes: a deleted counter stays deleted
			return
		}
		mc := m.counters[o.id]
		cur := int64(0)
		if mc != nil {
			cur = mc.value
		}
		if !fits(cur, o.delta) {
			r.wantErr(err, shard.ErrOutOfRange)
			return
		}
		r.wantErr(err, nil)
		r.wantFresh(res)
		if mc == nil {
			mc = &modelCounter{shards: modelShards}
			m.counters[o.id] = mc
		}
		mc.value += o.delta
		if o.key != "" {
			m.record(o.id, o.key, modelRecord{fingerprint: incrementFP(o.delta), commitTime: res.CommitTime})
		}

	case opBatchIncrement:
		res, err := s.BatchIncrement(ctx, o.deltas, o.key)
		r.note(res, err)
		totals, fp, partial, overflow := batchTotals(o.deltas)
		rec, recorded := m.batches[batchScope(o.key, o.deltas)]
		recorded = recorded && o.key != ""
		switch {
		case overflow:
			// Not a request the key can have recorded: either refusal is right.
			if !errors.Is(err, shard.ErrOutOfRange) && !(recorded && errors.Is(err, shard.ErrKeyReused)) {
				r.fail("got %v, want ErrOutOfRange: a counter's deltas add up beyond int64", err)
			}
			return
		case partial && errors.Is(err, shard.ErrOutOfRange):
			// A running sum left int64 although the total fits: refusing is acceptable.
			return
		case recorded && rec.fingerprint != fp:
			r.wantErr(err, shard.ErrKeyReused)
			return
		case recorded:
			r.wantErr(err, nil)
			r.wantDuplicate(res, rec)
			return
		}
		for id, total := range totals {
			cur := int64(0)
			if mc := m.counters[id]; mc != nil {
				cur = mc.value
			}
			if !fits(cur, total) {
				r.wantErr(err, shard.ErrOutOfRange) // and nothing applies, missing counters included
				return
			}
		}
		r.wantErr(err, nil)
		r.wantFresh(res)
		for id, total := range totals {
			if m.counters[id] == nil {
				m.counters[id] = &modelCounter{shards: modelShards}
			}
			m.counters[id].value += total
		}
		if o.key != "" {
			m.batches[batchScope(o.key, o.deltas)] = modelRecord{fingerprint: fp, commitTime: res.CommitTime, deltas: slices.Clone(o.deltas), key: o.key}
		}

	case opGet:
		c, err := s.Get(ctx, o.id)
		r.noteCounters(err, c)
		mc := m.counters[o.id]
		if mc == nil {
			r.wantErr(err, shard.ErrNotFound)
			return
		}
		r.wantErr(err, nil)
		r.wantCounter(c, o.id, mc)
		r.past = append(r.past, *c)

	case opBatchGet:
		cs, err := s.BatchGet(ctx, o.ids)
		r.noteCounters(err, cs...)
		for _, id := range o.ids {
			if m.counters[id] == nil {
				r.wantErr(err, shard.ErrNotFound)
				return
			}
		}
		r.wantErr(err, nil)
		if len(cs) != len(o.ids) {
			r.fail("%d counters read, want %d", len(cs), len(o.ids))
		}
		for i, id := range o.ids {
			r.wantCounter(cs[i], id, m.counters[id])
			r.past = append(r.past, *cs[i])
			if !cs[i].ReadTime.Equal(cs[0].ReadTime) || cs[i].ReadTime.IsZero() {
				r.fail("read times %v and %v differ: a batch get reads at one time", cs[0].ReadTime, cs[i].ReadTime)
			}
		}

	case opCreate:
		c, err := s.Create(ctx, o.id, o.shards)
		r.noteCounters(err, c)
		if m.counters[o.id] != nil {
			r.wantErr(err, shard.ErrAlreadyExists)
			return
		}
		r.wantErr(err, nil)
		mc := &modelCounter{shards: cmp0(o.shards, modelShards)}
		r.wantCounter(c, o.id, mc)
		m.counters[o.id] = mc

	case opResize:
		c, err := s.Resize(ctx, o.id, o.shards)
		r.noteCounters(err, c)
		mc := m.counters[o.id]
		if mc == nil {
			r.wantErr(err, shard.ErrNotFound)
			return
		}
		r.wantErr(err, nil)
		mc.shards = cmp0(o.shards, modelShards)
		r.wantCounter(c, o.id, mc)

	case opReset:
		res, err := s.Reset(ctx, o.id, o.key)
		r.note(res, err)
		mc := m.counters[o.id]
		if mc == nil {
			r.wantErr(err, shard.ErrNotFound)
			return
		}
		if rec, ok := m.records[o.id][o.key]; ok && o.key != "" {
			if rec.fingerprint != resetFP {
				r.wantErr(err, shard.ErrKeyReused)
				return
			}
			r.wantErr(err, nil)
			r.wantDuplicate(res, rec)
			return
		}
		r.wantErr(err, nil)
		r.wantFresh(res)
		mc.value = 0
		if o.key != "" {
			m.record(o.id, o.key, modelRecord{fingerprint: resetFP, commitTime: res.CommitTime})
		}

	case opDelete:
		err := s.Delete(ctx, o.id)
		r.noteCounters(err)
		if m.counters[o.id] == nil {
			r.wantErr(err, shard.ErrNotFound)
			return
		}
		r.wantErr(err, nil)
		delete(m.counters, o.id)
	}
}

// cmp0 is n, or def for 0.
func cmp0(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func (r *replicaRun) note(res shard.WriteResult, err error) {
	switch {
	case err != nil:
		r.history[len(r.history)-1].text += " → " + err.Error()
	case res.Duplicate:
		r.history[len(r.history)-1].text += " → duplicate"
	default:
		r.history[len(r.history)-1].text += " → ok"
	}
}

func (r *replicaRun) noteCounters(err error, cs ...*shard.Counter) {
	if err != nil {
		r.history[len(r.history)-1].text += " → " + err.Error()
		return
	}
	var parts []string
	for _, c := range cs {
		if c != nil {
			parts = append(parts, fmt.Sprintf("%s=%d/%d shards", c.ID, c.Value, c.ShardCount))
		}
	}
	r.history[len(r.history)-1].text += " → ok " + strings.Join(parts, " ")
}

// checkAll reads every counter through every replica and compares with the model.
func (r *replicaRun) checkAll(ctx context.Context) {
	r.t.Helper()
	for _, id := range modelIDs {
		for i := range r.stores {
			r.begin("final", modelOp{kind: opGet, replica: i, id: id})
			r.step(ctx)
		}
	}
}

// checkPast reads every counter read during the run again, through another replica, as of the
// time it was read: a read as of a time sees what a read at that time saw, the same incarnation
// with the same value and shard count, however many changes followed.
func (r *replicaRun) checkPast(ctx context.Context) {
	r.t.Helper()
	for i, was := range r.past {
		s := r.stores[i%len(r.stores)]
		c, err := s.GetAt(ctx, was.ID, was.ReadTime)
		if err != nil || c.Value != was.Value || c.ShardCount != was.ShardCount || !c.CreateTime.Equal(was.CreateTime) || !c.ReadTime.Equal(was.ReadTime) {
			r.t.Fatalf("seed %d: %s read as of %v: %+v, %v; read then: %+v", r.seed, was.ID, was.ReadTime, c, err, was)
		}
	}
}

func TestReplicasModel(t *testing.T) {
	t.Parallel()
	ops := replicaOps(t)
	for _, mode := range []struct {
		name string
		huge bool
	}{{"small-deltas", false}, {"near-int64-bounds", true}} {
		for _, seed := range replicaSeeds(t) {
			t.Run(fmt.Sprintf("%s/seed=%d", mode.name, seed), func(t *testing.T) {
				t.Parallel()
				t.Logf("seed %d, %d operations (%s=%d reruns it, %s sets the count)", seed, ops, envReplicaSeeds, seed, envReplicaOps)
				em := emulatortest.Start(t, emulator.Options{})
				opts := shard.Options{DefaultShards: modelShards}
				r := &replicaRun{t: t, seed: seed, m: newModel(),
					stores: []*shard.Counters{storeOn(t, em, opts), storeOn(t, em, opts), storeOn(t, em, opts)}}
				gen := &opGen{rng: rand.New(rand.NewPCG(seed, 0x7a11)), huge: mode.huge}
				ctx := context.Background()
				start := time.Now()
				for r.index = range ops {
					r.begin(fmt.Sprintf("#%d", r.index), gen.next(r.m))
					r.step(ctx)
				}
				r.index = ops
				r.checkAll(ctx)
				r.checkPast(ctx)
				t.Logf("%d operations in %v", ops, time.Since(start).Round(time.Millisecond))
			})
		}
	}
}
