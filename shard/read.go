package shard

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
)

// Get reads a counter and its value. The value is one SUM aggregation over the counter's shards
// of its current generation, read in the same snapshot as the configuration; ReadTime is that
// snapshot's time.
func (s *Counters) Get(ctx context.Context, id string) (*Counter, error) {
	return s.GetAt(ctx, id, time.Time{})
}

// GetAt reads a counter as it was at time at: its configuration and its exact value in the
// snapshot of that instant, with ReadTime at (truncated to the microsecond). A zero at reads
// the current value, as Get does. It fails with ErrNotFound if the counter did not exist at
// that time, with ErrReadTimeTooOld if the storage no longer keeps the versions of that time
// (readtime.go), and with an ArgError (or ErrBadReadTime, if only the storage could tell) for a
// time in the future or one it cannot read at.
func (s *Counters) GetAt(ctx context.Context, id string, at time.Time) (*Counter, error) {
	if err := check("id", ValidateCounterID(id)); err != nil {
		return nil, err
	}
	defer s.ins.read(ctx, readGet, time.Now())
	cs, err := s.batchGet(ctx, []string{id}, at)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// BatchGet reads several counters and their values at one read time, in the order of ids.
// It fails with ErrNotFound if any does not exist.
func (s *Counters) BatchGet(ctx context.Context, ids []string) ([]*Counter, error) {
	return s.BatchGetAt(ctx, ids, time.Time{})
}

// BatchGetAt reads several counters as they were at time at (zero: now), as GetAt does, in the
// order of ids. It fails with ErrNotFound if any did not exist then.
func (s *Counters) BatchGetAt(ctx context.Context, ids []string, at time.Time) ([]*Counter, error) {
	defer s.ins.read(ctx, readBatchGet, time.Now())
	return s.batchGet(ctx, ids, at)
}

func (s *Counters) batchGet(ctx context.Context, ids []string, at time.Time) ([]*Counter, error) {
	if err := checkCount("ids", len(ids), MaxBatchGet, "ids"); err != nil {
		return nil, err
	}
	for i, id := range ids {
		if err := check(fmt.Sprintf("ids[%d]", i), ValidateCounterID(id)); err != nil {
			return nil, err
		}
	}
	if err := check("at", ValidateReadTime(at, s.opts.Now())); err != nil {
		return nil, err
	}
	opts := []firestore.TransactionOption{firestore.ReadOnly}
	if !at.IsZero() {
		opts = append(opts, firestore.TransactionReadTime(readTimeOf(at)))
	}
	refs := make([]*firestore.DocumentRef, len(ids))
	for i, id := range ids {
		refs[i] = s.metaRef(id)
	}
	var out []*Counter
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snaps, err := tx.GetAll(refs)
		if err != nil {
			return err
		}
		out = make([]*Counter, len(snaps))
		for i, snap := range snaps {
			if !snap.Exists() {
				return fmt.Errorf("counter %q: %w", ids[i], ErrNotFound)
			}
			if out[i], err = s.withValue(ctx, tx, snap); err != nil {
				return err
			}
		}
		return nil
	}, opts...)
	if err != nil && !at.IsZero() {
		err = classifyReadAt(err, readTimeOf(at), s.opts.Now())
	}
	return out, classifyUnapplied(err)
}

// withValue decodes a counter's metadata and reads its value inside tx.
func (s *Counters) withValue(ctx context.Context, tx *firestore.Transaction, snap *firestore.DocumentSnapshot) (*Counter, error) {
	cfg, err := configOf(snap)
	if err != nil {
		return nil, err
	}
	c := counterOf(snap.Ref.ID, cfg)
	c.ReadTime = snap.ReadTime
	current := s.shardsRef(c.ID).Where(fieldGeneration, "==", cfg.generation)
	res, err := current.NewAggregationQuery().WithSum(fieldCount, "total").Transaction(tx).Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("summing the shards of counter %q: %w", c.ID, err)
	}
	total, _ := res["total"].(*pb.Value)
	switch v := total.GetValueType().(type) {
	case *pb.Value_IntegerValue:
		c.Value = v.IntegerValue
	case *pb.Value_DoubleValue:
		// Firestore turns an integer sum that overflows int64 into a double.
		return nil, fmt.Errorf("the total of counter %q (about %g) does not fit in int64: %w", c.ID, v.DoubleValue, ErrOutOfRange)
	default:
		return nil, fmt.Errorf("summing the shards of counter %q gave %v", c.ID, total)
	}
	return c, nil
}

func counterOf(id string, cfg config) *Counter {
	return &Counter{ID: id, ShardCount: cfg.shardCount, CreateTime: cfg.createTime, UpdateTime: cfg.updateTime, Adaptive: cfg.adaptive}
}

// List returns a page of counters in id order and the token of the next page ("" at the end).
func (s *Counters) List(ctx context.Context, opts ListOptions) ([]*Counter, string, error) {
	if err := check("opts.Prefix", ValidatePrefix(opts.Prefix)); err != nil {
		return nil, "", err
	}
	size, err := PageSize(opts.PageSize)
	if err != nil {
		return nil, "", invalid("opts.PageSize", err.Error())
	}
	opts.PageSize = size
	defer s.ins.read(ctx, readList, time.Now())
	after := ""
	if opts.PageToken != "" {
		tok, err := decodeToken(opts.PageToken)
		if err != nil || tok.Prefix != opts.Prefix || tok.Values != opts.WithValues {
			return nil, "", ErrBadPageToken
		}
		after = tok.After
	}
	q := s.client.Collection(countersCollection).OrderBy(fieldID, firestore.Asc)
	if opts.Prefix != "" {
		q = q.Where(fieldID, ">=", opts.Prefix)
		if end, ok := prefixEnd(opts.Prefix); ok {
			q = q.Where(fieldID, "<", end)
		}
	}
	if after != "" {
		q = q.StartAfter(after)
	}
	q = q.Limit(opts.PageSize + 1)

	var out []*Counter
	read := func(ctx context.Context, tx *firestore.Transaction) error {
		var docs []*firestore.DocumentSnapshot
		var err error
		if tx != nil {
			docs, err = tx.Documents(q).GetAll()
		} else {
			docs, err = q.Documents(ctx).GetAll()
		}
		if err != nil {
			return err
		}
		out = out[:0]
		for _, d := range docs {
			var c *Counter
			if tx != nil {
				c, err = s.withValue(ctx, tx, d)
			} else {
				var cfg config
				if cfg, err = configOf(d); err == nil {
					c = counterOf(d.Ref.ID, cfg)
				}
			}
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	}
	if opts.WithValues {
		err = s.client.RunTransaction(ctx, read, firestore.ReadOnly)
	} else {
		err = read(ctx, nil)
	}
	if err != nil {
		return nil, "", classifyUnapplied(err)
	}
	next := ""
	if len(out) > opts.PageSize {
		out = out[:opts.PageSize]
		next = encodeToken(pageToken{After: out[len(out)-1].ID, Prefix: opts.Prefix, Values: opts.WithValues})
	}
	return out, next, nil
}

// prefixEnd is the smallest string greater than every string starting with p: p with its last
// character incremented (dropping trailing characters that cannot be). ok is false when there
// is none (p is all U+10FFFF).
func prefixEnd(p string) (string, bool) {
	for len(p) > 0 {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		switch {
		case r == utf8.MaxRune:
			continue
		case r == 0xD7FF:
			return p + string(rune(0xE000)), true // skip the surrogates, which UTF-8 cannot hold
		default:
			return p + string(r+1), true
		}
	}
	return "", false
}

// pageToken is the opaque ListCounters page token: where the page stopped and what it listed.
type pageToken struct {
	After  string `json:"a"`
	Prefix string `json:"p,omitempty"`
	Values bool   `json:"v,omitempty"`
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t) // marshalling strings and a bool cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (pageToken, error) {
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, err
	}
	if t.After == "" {
		return t, errors.New("empty position")
	}
	return t, nil
}
