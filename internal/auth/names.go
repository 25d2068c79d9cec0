package auth

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// namePrefix starts every counter's resource name: counters/{counter_id}.
const namePrefix = "counters/"

// maxEcho bounds how much of a refused name an error message repeats (it travels in a header).
const maxEcho = 64

// checkNames refuses the request if any counter it names lies outside p's prefixes, before the
// handler runs, so that a refused batch applies none of its increments. A name that does not
// start with counters/ names no counter at all and is left to the handler, which rejects it
// with INVALID_ARGUMENT before reading or writing anything; every other name's id is checked,
// malformed or not. ListCounters is not handled here (list.go). A request of a type this
// package does not know is refused: its names cannot be checked.
func checkNames(p *Principal, req any) error {
	var names []string
	field := "name"
	switch r := req.(type) {
	case *tallyv1.IncrementRequest:
		names = []string{r.GetName()}
	case *tallyv1.BatchIncrementRequest:
		for i, sub := range r.GetRequests() {
			if err := checkName(p, fmt.Sprintf("requests[%d].name", i), sub.GetName()); err != nil {
				return err
			}
		}
		return nil
	case *tallyv1.GetCounterRequest:
		names = []string{r.GetName()}
	case *tallyv1.WatchCounterRequest:
		names = []string{r.GetName()}
	case *tallyv1.BatchGetCountersRequest:
		for i, name := range r.GetNames() {
			if err := checkName(p, fmt.Sprintf("names[%d]", i), name); err != nil {
				return err
			}
		}
		return nil
	case *tallyv1.CreateCounterRequest:
		// An id, not a name: always checked.
		return checkID(p, "counter_id", r.GetCounterId())
	case *tallyv1.UpdateCounterRequest:
		names, field = []string{r.GetCounter().GetName()}, "counter.name"
	case *tallyv1.ResetCounterRequest:
		names = []string{r.GetName()}
	case *tallyv1.DeleteCounterRequest:
		names = []string{r.GetName()}
	default:
		return status.Errorf(codes.PermissionDenied, "the counters named by a %T cannot be checked", req)
	}
	for _, name := range names {
		if err := checkName(p, field, name); err != nil {
			return err
		}
	}
	return nil
}

func checkName(p *Principal, field, name string) error {
	id, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return nil // not a counter's name: the handler rejects it
	}
	return checkID(p, field, id)
}

func checkID(p *Principal, field, id string) error {
	if p.Allows(id) {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "%s: counter %s is outside the prefixes of principal %q", field, echo(id), p.ID)
}

// echo quotes a refused value for an error message, cut to maxEcho bytes.
func echo(s string) string {
	if len(s) <= maxEcho {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:maxEcho], len(s))
}
