package main

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
)

// openCalls counts the calls in progress per method, so that a shutdown can log which calls it
// is waiting for, and which it cut off.
type openCalls struct {
	methods sync.Map // full method name → *atomic.Int64; few keys, read on every call
}

func (o *openCalls) enter(method string) *atomic.Int64 {
	n, ok := o.methods.Load(method)
	if !ok {
		n, _ = o.methods.LoadOrStore(method, new(atomic.Int64))
	}
	counter := n.(*atomic.Int64)
	counter.Add(1)
	return counter
}

func (o *openCalls) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	defer o.enter(info.FullMethod).Add(-1)
	return handler(ctx, req)
}

func (o *openCalls) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	defer o.enter(info.FullMethod).Add(-1)
	return handler(srv, ss)
}

// open lists the calls in progress as "method=n", in method order, and returns their total.
func (o *openCalls) open() ([]string, int64) {
	var list []string
	var total int64
	o.methods.Range(func(method, n any) bool {
		if v := n.(*atomic.Int64).Load(); v > 0 {
			list = append(list, method.(string)+"="+strconv.FormatInt(v, 10))
			total += v
		}
		return true
	})
	slices.Sort(list)
	return list, total
}
