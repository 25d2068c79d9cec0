// Package client is the Go client of the Tally counter service: named 64-bit counters served
// by tallyd over gRPC.
//
// Its point is exactly-once counting without effort from the caller. Every Increment,
// BatchIncrement and Reset carries an idempotency key, a fresh random one unless the caller
// brings its own (WithKey), and a call whose answer is lost (UNAVAILABLE, a broken connection)
// or that the server refused before applying it (RESOURCE_EXHAUSTED, ABORTED) is sent again
// with the same key, with jittered exponential backoff (RetryPolicy), for as long as the
// caller's context allows. The server applies a key at most once, so the increment counts once
// however many attempts it took. WithoutKey turns this off for callers that accept
// at-least-once counting.
//
// Usage:
//
//	c, err := client.New(ctx, "localhost:8080",
//		client.WithToken(os.Getenv("TALLY_TOKEN")), client.WithTimeout(10*time.Second))
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//
//	if _, err := c.Increment(ctx, "page-views", 1); err != nil {
//		return err
//	}
//	now, err := c.Get(ctx, "page-views")
//	midnight, err := c.Get(ctx, "page-views", client.At(lastMidnight))
//	for update, err := range c.Watch(ctx, "page-views") {
//		...
//	}
//
// Counters are named by their ID ("page-views") or their full resource name
// ("counters/page-views"). Reads (Get, BatchGet, List) and configuration changes (Resize,
// SetAdaptive) are retried like keyed writes, since repeating them is harmless; Create and
// Delete are retried only when the server certainly applied nothing.
//
// Errors the server answers are *Error values that match one of the Err variables with
// errors.Is (errors.Is(err, client.ErrNotFound)), so callers need not import gRPC. When retries
// run out the error is the last attempt's; when the context ends first the error also matches
// the context's error.
package client
