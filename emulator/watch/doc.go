// Package watch serves Firestore's realtime listeners (the Listen RPC): it keeps, for every
// stream, the targets a client listens to and what the client has been told about each, and
// turns the engine's change feed into the responses of production's protocol.
//
// # Data flow
//
// The transaction engine publishes every commit once it is durable, in commit order, to the
// Hub (txn.Sink). The Hub looks up the targets each written document may concern in an index
// keyed by document name, collection and collection group, and appends one event per concerned
// stream to that stream's queue. Commits never wait for streams: a queue is bounded, and a
// stream whose queue overflows drops it and later catches up by reading the current state from
// storage and comparing it with what its client has (the same comparison that serves resume
// tokens), so memory stays bounded and the client still ends at the exact state.
//
// # Consistency
//
// Every target records the time up to which its client's view is exact (asOf). The engine's
// FeedPosition splits the feed into commits already handed to the Hub and commits still to
// come, so a target registered before asking for the position and read from storage at that
// position misses nothing and sees nothing twice. A global NO_CHANGE with a read_time tells the
// client that every target of the stream is consistent at that time; its resume token encodes
// the time.
package watch
