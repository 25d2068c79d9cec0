package service

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Every request is checked here, before the core is called, so that a malformed request never
// reaches Firestore and every rejection names the field the way the proto spells it. This is the
// only place that names API fields: the rules themselves are the core's (shard.ValidateCounterID,
// ValidateKey, ValidateShards, ValidatePrefix, PageSize and the Max constants), which the core
// checks again in its own terms (shard.ArgError) for callers that did not validate. Each validate
// function returns the arguments of the Counters call it guards. The page token alone is left to
// the core (see validateList).

// namePrefix starts every counter's resource name: counters/{counter_id}.
const namePrefix = "counters/"

// The update_mask paths UpdateCounter accepts; an empty mask means shardCountPath.
const (
	shardCountPath = "shard_count"
	adaptivePath   = "adaptive_shards"
)

// readTimeField is the field of GetCounterRequest and BatchGetCountersRequest that asks for a read
// as of a time.
const readTimeField = "read_time"

// maxEcho bounds how much of a rejected value is repeated in an error message: names are not
// length-checked before they are found malformed, and a status message travels in a header.
const maxEcho = 64

// fieldError is a rejected request field, named as the proto spells it (e.g. "requests[2].name").
// toStatus turns it into INVALID_ARGUMENT with a google.rpc.BadRequest field violation.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// invalid is a validation failure of field.
func invalid(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// checkField names field in a rule's complaint about it, if any.
func checkField(field string, err error) error {
	if err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

// resourceName is the name of the counter with the given id.
func resourceName(id string) string { return namePrefix + id }

// parseName returns the counter id of a counters/{counter_id} name.
func parseName(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, namePrefix)
	switch {
	case name == "":
		return "", invalid(field, "is required; want counters/{counter_id}")
	case !ok:
		return "", invalid(field, "%s does not have the form counters/{counter_id}", echo(name))
	}
	if err := checkField(field, shard.ValidateCounterID(id)); err != nil {
		return "", err
	}
	return id, nil
}

// echo quotes a rejected value for an error message, cut to maxEcho bytes.
func echo(s string) string {
	if len(s) <= maxEcho {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:maxEcho], len(s))
}

func validateIncrement(req *tallyv1.IncrementRequest) (id string, err error) {
	if id, err = parseName("name", req.GetName()); err != nil {
		return "", err
	}
	return id, checkField("idempotency_key", shard.ValidateKey(req.GetIdempotencyKey()))
}

// validateBatchIncrement accepts at most limit increments (see Options.MaxBatchNames).
func validateBatchIncrement(req *tallyv1.BatchIncrementRequest, limit int) ([]shard.Delta, error) {
	reqs := req.GetRequests()
	switch {
	case len(reqs) == 0:
		return nil, invalid("requests", "must hold at least one increment")
	case len(reqs) > limit:
		return nil, invalid("requests", "holds %d increments, more than the limit of %d", len(reqs), limit)
	}
	if err := checkField("idempotency_key", shard.ValidateKey(req.GetIdempotencyKey())); err != nil {
		return nil, err
	}
	deltas := make([]shard.Delta, len(reqs))
	for i, r := range reqs {
		id, err := parseName(fmt.Sprintf("requests[%d].name", i), r.GetName())
		if err != nil {
			return nil, err
		}
		if r.GetIdempotencyKey() != "" {
			return nil, invalid(fmt.Sprintf("requests[%d].idempotency_key", i),
				"must be empty: the batch's idempotency_key covers the whole batch")
		}
		deltas[i] = shard.Delta{CounterID: id, Delta: r.GetDelta()}
	}
	return deltas, nil
}

// validateGet returns the counter to read and the time to read it at (zero: now), judged
// against now.
func validateGet(req *tallyv1.GetCounterRequest, now time.Time) (id string, at time.Time, err error) {
	if id, err = parseName("name", req.GetName()); err != nil {
		return "", time.Time{}, err
	}
	at, err = parseReadTime(req.GetReadTime(), now)
	return id, at, err
}

// validateBatchGet accepts at most limit names (see Options.MaxBatchNames).
func validateBatchGet(req *tallyv1.BatchGetCountersRequest, limit int, now time.Time) ([]string, time.Time, error) {
	names := req.GetNames()
	switch {
	case len(names) == 0:
		return nil, time.Time{}, invalid("names", "must name at least one counter")
	case len(names) > limit:
		return nil, time.Time{}, invalid("names", "holds %d names, more than the limit of %d", len(names), limit)
	}
	ids := make([]string, len(names))
	for i, name := range names {
		id, err := parseName(fmt.Sprintf("names[%d]", i), name)
		if err != nil {
			return nil, time.Time{}, err
		}
		ids[i] = id
	}
	at, err := parseReadTime(req.GetReadTime(), now)
	if err != nil {
		return nil, time.Time{}, err
	}
	return ids, at, nil
}

// parseReadTime checks an optional read_time against now: unset is the zero time (read now).
func parseReadTime(ts *timestamppb.Timestamp, now time.Time) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, invalid(readTimeField, "is not a valid timestamp: %v", err)
	}
	at := ts.AsTime()
	return at, checkField(readTimeField, shard.ValidateReadTime(at, now))
}

func validateCreate(req *tallyv1.CreateCounterRequest) (id string, set shard.Settings, err error) {
	if err := checkField("counter_id", shard.ValidateCounterID(req.GetCounterId())); err != nil {
		return "", shard.Settings{}, err
	}
	n := req.GetCounter().GetShardCount()
	if err := checkField("counter.shard_count", shard.ValidateShards(int(n))); err != nil {
		return "", shard.Settings{}, err
	}
	return req.GetCounterId(), shard.Settings{Shards: int(n), Adaptive: req.GetCounter().GetAdaptiveShards()}, nil
}

// validateUpdate accepts shard_count and adaptive_shards in the mask (an empty mask is
// shard_count) and returns the change they make; a field the mask does not name is ignored, as
// a field mask means.
func validateUpdate(req *tallyv1.UpdateCounterRequest) (id string, ch shard.Change, err error) {
	c := req.GetCounter()
	if c == nil {
		return "", shard.Change{}, invalid("counter", "is required")
	}
	if id, err = parseName("counter.name", c.GetName()); err != nil {
		return "", shard.Change{}, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{shardCountPath}
	}
	for i, path := range paths {
		switch path {
		case shardCountPath:
			n := int(c.GetShardCount())
			ch.Shards = &n
		case adaptivePath:
			on := c.GetAdaptiveShards()
			ch.Adaptive = &on
		default:
			return "", shard.Change{}, invalid(fmt.Sprintf("update_mask.paths[%d]", i),
				"%s is not updatable; the updatable fields are %s and %s", echo(path), shardCountPath, adaptivePath)
		}
	}
	if ch.Shards != nil {
		if err := checkField("counter.shard_count", shard.ValidateShards(*ch.Shards)); err != nil {
			return "", shard.Change{}, err
		}
	}
	return id, ch, nil
}

func validateReset(req *tallyv1.ResetCounterRequest) (id string, err error) {
	if id, err = parseName("name", req.GetName()); err != nil {
		return "", err
	}
	return id, checkField("idempotency_key", shard.ValidateKey(req.GetIdempotencyKey()))
}

func validateDelete(req *tallyv1.DeleteCounterRequest) (id string, err error) {
	return parseName("name", req.GetName())
}

// validateList leaves page_token to the core: the token is opaque here, and the core checks that
// it was issued for the same prefix and view (shard.ErrBadPageToken, which toStatus answers
// naming page_token).
func validateList(req *tallyv1.ListCountersRequest) (shard.ListOptions, error) {
	opts := shard.ListOptions{Prefix: req.GetPrefix(), PageToken: req.GetPageToken()}
	if err := checkField("prefix", shard.ValidatePrefix(opts.Prefix)); err != nil {
		return shard.ListOptions{}, err
	}
	size, err := shard.PageSize(int(req.GetPageSize()))
	if err != nil {
		return shard.ListOptions{}, invalid("page_size", "%v", err)
	}
	opts.PageSize = size
	switch view := req.GetView(); view {
	case tallyv1.CounterView_COUNTER_VIEW_UNSPECIFIED, tallyv1.CounterView_COUNTER_VIEW_BASIC:
		opts.WithValues = false
	case tallyv1.CounterView_COUNTER_VIEW_FULL:
		opts.WithValues = true
	default:
		return shard.ListOptions{}, invalid("view", "is %d, not a known CounterView", int32(view))
	}
	return opts, nil
}
