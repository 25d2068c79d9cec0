package service

import (
	"fmt"
	"strings"
	"unicode/utf8"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
	"github.com/tally-dev/tally/shard"
)

// Every request is checked here, before the core is called, so that a malformed request never
// reaches Firestore and every rejection names the field the way the proto spells it. Each
// validate function returns the arguments of the Counters call it guards.

// namePrefix starts every counter's resource name: counters/{counter_id}.
const namePrefix = "counters/"

// updatableField is the only update_mask path UpdateCounter accepts.
const updatableField = "shard_count"

// maxIDBytes is the longest counter id the API allows, and so the longest prefix that can match
// one.
const maxIDBytes = 1500

// maxEcho bounds how much of a rejected value is repeated in an error message: names are not
// length-checked before they are found malformed, and a status message travels in a header.
const maxEcho = 64

// invalid is a validation failure. It reuses the core's FieldError so that the service's and
// the core's rejections reach the client the same way.
func invalid(field, format string, args ...any) error {
	return &shard.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
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
	if err := shard.ValidateCounterID(id); err != nil {
		return "", invalid(field, "%v", err)
	}
	return id, nil
}

func checkCounterID(field, id string) error {
	if err := shard.ValidateCounterID(id); err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

func checkKey(field, key string) error {
	if err := shard.ValidateKey(key); err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

func checkShards(field string, n int32) error {
	if err := shard.ValidateShards(int(n)); err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

// checkPrefix accepts what could start a counter id; the core refuses anything else too.
func checkPrefix(field, prefix string) error {
	switch {
	case len(prefix) > maxIDBytes:
		return invalid(field, "is %d bytes, longer than the longest counter id (%d bytes)", len(prefix), maxIDBytes)
	case !utf8.ValidString(prefix):
		return invalid(field, "must be valid UTF-8")
	case strings.Contains(prefix, "/"):
		return invalid(field, "must not contain '/', which no counter id contains")
	}
	return nil
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
	return id, checkKey("idempotency_key", req.GetIdempotencyKey())
}

func validateBatchIncrement(req *tallyv1.BatchIncrementRequest) ([]shard.Delta, error) {
	reqs := req.GetRequests()
	switch {
	case len(reqs) == 0:
		return nil, invalid("requests", "must hold at least one increment")
	case len(reqs) > shard.MaxBatchDeltas:
		return nil, invalid("requests", "holds %d increments, more than the limit of %d", len(reqs), shard.MaxBatchDeltas)
	}
	if err := checkKey("idempotency_key", req.GetIdempotencyKey()); err != nil {
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

func validateGet(req *tallyv1.GetCounterRequest) (id string, err error) {
	return parseName("name", req.GetName())
}

func validateBatchGet(req *tallyv1.BatchGetCountersRequest) ([]string, error) {
	names := req.GetNames()
	switch {
	case len(names) == 0:
		return nil, invalid("names", "must name at least one counter")
	case len(names) > shard.MaxBatchGet:
		return nil, invalid("names", "holds %d names, more than the limit of %d", len(names), shard.MaxBatchGet)
	}
	ids := make([]string, len(names))
	for i, name := range names {
		id, err := parseName(fmt.Sprintf("names[%d]", i), name)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

func validateCreate(req *tallyv1.CreateCounterRequest) (id string, shards int, err error) {
	if err := checkCounterID("counter_id", req.GetCounterId()); err != nil {
		return "", 0, err
	}
	n := req.GetCounter().GetShardCount()
	if err := checkShards("counter.shard_count", n); err != nil {
		return "", 0, err
	}
	return req.GetCounterId(), int(n), nil
}

// validateUpdate accepts only shard_count in the mask; as shard_count is the one updatable field,
// every valid request is a resize.
func validateUpdate(req *tallyv1.UpdateCounterRequest) (id string, shards int, err error) {
	c := req.GetCounter()
	if c == nil {
		return "", 0, invalid("counter", "is required")
	}
	if id, err = parseName("counter.name", c.GetName()); err != nil {
		return "", 0, err
	}
	for i, path := range req.GetUpdateMask().GetPaths() {
		if path != updatableField {
			return "", 0, invalid(fmt.Sprintf("update_mask.paths[%d]", i),
				"%s is not updatable; the only updatable field is %s", echo(path), updatableField)
		}
	}
	if err := checkShards("counter.shard_count", c.GetShardCount()); err != nil {
		return "", 0, err
	}
	return id, int(c.GetShardCount()), nil
}

func validateReset(req *tallyv1.ResetCounterRequest) (id string, err error) {
	if id, err = parseName("name", req.GetName()); err != nil {
		return "", err
	}
	return id, checkKey("idempotency_key", req.GetIdempotencyKey())
}

func validateDelete(req *tallyv1.DeleteCounterRequest) (id string, err error) {
	return parseName("name", req.GetName())
}

// validateList leaves page_token to the core: the token is opaque here, and the core checks that
// it was issued for the same prefix and view.
func validateList(req *tallyv1.ListCountersRequest) (shard.ListOptions, error) {
	opts := shard.ListOptions{Prefix: req.GetPrefix(), PageToken: req.GetPageToken()}
	if err := checkPrefix("prefix", opts.Prefix); err != nil {
		return shard.ListOptions{}, err
	}
	switch size := req.GetPageSize(); {
	case size < 0:
		return shard.ListOptions{}, invalid("page_size", "is %d; it must not be negative", size)
	case size == 0:
		opts.PageSize = shard.DefaultPageSize
	case size > shard.MaxPageSize:
		opts.PageSize = shard.MaxPageSize
	default:
		opts.PageSize = int(size)
	}
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
