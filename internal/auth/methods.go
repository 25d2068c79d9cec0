package auth

import (
	"strings"

	tallyv1 "github.com/tally-dev/tally/proto/tally/v1"
)

// rule is what a method requires.
type rule struct {
	perm Permission
	// audit: the call is logged as an audit line (audit.go).
	audit bool
}

// rules lists every method of tally.v1.CounterService. A method missing from it, of any service
// that is not open, is refused with PERMISSION_DENIED: a method added to the API is closed until
// it is given a permission here and its counter names are checked (names.go).
var rules = map[string]rule{
	tallyv1.CounterService_Increment_FullMethodName:        {perm: Write},
	tallyv1.CounterService_BatchIncrement_FullMethodName:   {perm: Write},
	tallyv1.CounterService_GetCounter_FullMethodName:       {perm: Read},
	tallyv1.CounterService_BatchGetCounters_FullMethodName: {perm: Read},
	tallyv1.CounterService_ListCounters_FullMethodName:     {perm: Read},
	tallyv1.CounterService_WatchCounter_FullMethodName:     {perm: Read},
	tallyv1.CounterService_CreateCounter_FullMethodName:    {perm: Admin, audit: true},
	tallyv1.CounterService_UpdateCounter_FullMethodName:    {perm: Admin, audit: true},
	tallyv1.CounterService_ResetCounter_FullMethodName:     {perm: Admin, audit: true},
	tallyv1.CounterService_DeleteCounter_FullMethodName:    {perm: Admin, audit: true},
}

// openServices need no credentials: load balancers and orchestrators check health without
// tokens, and reflection describes only the API, which is public.
var openServices = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

func isOpen(fullMethod string) bool {
	for _, s := range openServices {
		if strings.HasPrefix(fullMethod, s) {
			return true
		}
	}
	return false
}
